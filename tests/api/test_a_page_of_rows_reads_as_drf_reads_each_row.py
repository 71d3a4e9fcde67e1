"""A page of rows (api/serializers.PageSerializer) says of each row exactly what DRF's own
``Serializer.to_representation`` says of it: same keys, same values, same order. The page
does once what DRF does per row (the readable fields, how each reads its value, the time
zone); this holds it to DRF on every list the API serves, and on the reads it hands back to
DRF: a callable on the source path, a dictionary row, a missing attribute, a related row
that does not exist, a field skipped, a child with its own ``to_representation``."""

from __future__ import annotations

import json
from collections import ChainMap
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from swapadmin.accounts.api import TokenSerializer
from swapadmin.accounts.models import ApiToken
from swapadmin.api.serializers import (
    AuditEventSerializer,
    BackendSerializer,
    HostSerializer,
    JobSerializer,
    PageSerializer,
)
from swapadmin.core.models import AuditEvent, Backend, Host, Job
from swapadmin.health.api import BackendHealthSerializer, HealthEventSerializer
from swapadmin.health.models import BackendHealth, HealthEvent, HostHealth

pytestmark = pytest.mark.django_db

LISTS: list[tuple[type[serializers.ModelSerializer[Any]], Any]] = [
    (HostSerializer, Host),
    (BackendSerializer, Backend),
    (JobSerializer, Job),
    (AuditEventSerializer, AuditEvent),
    (BackendHealthSerializer, BackendHealth),
    (HealthEventSerializer, HealthEvent),
    (TokenSerializer, ApiToken),
]


def some_of_everything(user: User) -> None:
    """Rows with each optional thing present and absent: a job with and without a backend,
    a requester and an end; a backend with and without a recorded swap path and observed
    time; a token made by a person and one made by a token."""
    now = timezone.now()
    for i in range(3):
        host = Host.objects.create(name=f"h{i}", last_heartbeat=now if i else None,
                                   observed={"x": i})  # fmt: skip
        HostHealth.objects.create(host=host, status="warn", summary="PSI")
        first = Backend.objects.create(host=host, kind="file", name="a", params={"path": "/a"})
        second = Backend.objects.create(
            host=host, kind="block", name="b", params={"device": "/dev/x"},
            info={"swap_path": "/dev/dm-0"}, observed_at=now, observed_state="active",
        )  # fmt: skip
        BackendHealth.objects.create(backend=first, status="ok", summary="fine")
        Job.objects.create(kind=Job.Kind.SCAN, host=host, backend=first, requested_by=user,
                           started_at=now - timedelta(seconds=3), finished_at=now)  # fmt: skip
        Job.objects.create(kind=Job.Kind.DISCOVER, host=host)
        AuditEvent.objects.create(actor_name="alice", action="scan", object_type="backend",
                                  host=host, object_uuid=second.uuid)  # fmt: skip
        HealthEvent.objects.create(host=host, backend=second if i else None,
                                   from_status="ok", to_status="warn")  # fmt: skip
    parent, _ = ApiToken.objects.create(user, name="person's")
    ApiToken.objects.create(user, expiry=None, name="made by a token", parent=parent)


def both_ways(cls: type[serializers.Serializer[Any]], rows: list[Any], **kw: Any) -> Any:
    request = Request(APIRequestFactory().get("/api/v1/"))
    page = cls(rows, many=True, context={"request": request}, **kw).data
    each = [cls(row, context={"request": request}, **kw).data for row in rows]
    return page, each


@pytest.mark.parametrize(("cls", "model"), LISTS, ids=[c.__name__ for c, _ in LISTS])
def test_every_list_the_api_serves_reads_each_row_as_drf_does(
    cls: type[serializers.ModelSerializer[Any]], model: Any, alice: User
) -> None:
    some_of_everything(alice)
    rows = list(model.objects.all())
    assert len(rows) >= 2
    assert isinstance(cls(many=True), PageSerializer)
    page, each = both_ways(cls, rows)
    # Order of keys too: a client diffing two answers sees the same text.
    assert json.dumps(page) == json.dumps(each)
    assert page == each


def test_dates_are_in_the_current_time_zone_as_drf_puts_them(alice: User) -> None:
    some_of_everything(alice)
    rows = list(Job.objects.all())
    with timezone.override("Asia/Kolkata"):
        page, each = both_ways(JobSerializer, rows)
    assert page == each
    assert all(row["queued_at"].endswith("+05:30") for row in page)


class Thing:
    """A row with the reads DRF treats specially."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.at = datetime(2026, 1, 1, 12, tzinfo=UTC)
        self.inner = self if n else None

    def doubled(self) -> int:
        return self.n * 2

    @property
    def gone(self) -> Any:
        raise ObjectDoesNotExist


class ThingSerializer(serializers.Serializer[Any]):
    n = serializers.IntegerField()
    doubled = serializers.IntegerField()  # a method: DRF calls it
    inner_n = serializers.IntegerField(source="inner.n", allow_null=True)  # None on the way
    missing = serializers.CharField(default="fallback")  # no such attribute: the default
    optional = serializers.CharField(required=False)  # no such attribute: the field skipped
    gone = serializers.CharField(allow_null=True)  # a related row that does not exist: None
    at = serializers.DateTimeField()
    whole = serializers.SerializerMethodField()

    class Meta:
        list_serializer_class = PageSerializer

    def get_whole(self, row: Any) -> int:
        return int(row["n"]) if isinstance(row, dict) else row.n


def test_the_reads_drf_treats_specially_are_left_to_drf() -> None:
    rows: list[Any] = [Thing(0), Thing(3), {"n": 5, "doubled": 10, "at": None, "gone": "x"}]
    page, each = both_ways(ThingSerializer, rows)
    assert page == each
    assert all(read is None for _, read in PageSerializer.readers(
        list(ThingSerializer()._readable_fields), Thing))  # fmt: skip
    assert page[1] == {"n": 3, "doubled": 6, "inner_n": 3, "missing": "fallback",
                       "gone": None, "at": "2026-01-01T12:00:00Z", "whole": 3}  # fmt: skip
    assert page[0]["inner_n"] is None
    assert "optional" not in page[0]
    assert page[2]["gone"] == "x" and page[2]["whole"] == 5


def test_a_manager_is_read_as_drf_reads_one(alice: User) -> None:
    some_of_everything(alice)
    host = Host.objects.get(name="h1")
    page = BackendSerializer(host.backends, many=True, context={"request": None}).data
    each = [BackendSerializer(b, context={"request": None}).data for b in host.backends.all()]
    assert page == each and len(page) == 2


def test_a_mapping_row_is_read_by_key_even_where_it_has_an_attribute_of_the_name() -> None:
    class Maps(serializers.Serializer[Any]):
        maps = serializers.CharField()

        class Meta:
            list_serializer_class = PageSerializer

    page, each = both_ways(Maps, [ChainMap({"maps": "x"})])
    assert page == each == [{"maps": "x"}]


def test_a_child_with_its_own_representation_keeps_it_on_a_page(alice: User) -> None:
    class Annotated(HostSerializer):
        def to_representation(self, instance: Any) -> Any:
            return {**super().to_representation(instance), "extra": instance.name.upper()}

    some_of_everything(alice)
    page, each = both_ways(Annotated, list(Host.objects.all()))
    assert page == each and page[0]["extra"] == "H0"


def test_the_time_zone_is_the_one_current_at_each_page_and_left_after(alice: User) -> None:
    some_of_everything(alice)
    rows = list(Job.objects.all())
    pages = JobSerializer(rows, many=True, context={"request": None})
    with timezone.override("Asia/Kolkata"):
        first = pages.to_representation(rows)
    with timezone.override("America/New_York"):
        second = pages.to_representation(rows)
    assert first[0]["queued_at"].endswith("+05:30")
    assert second[0]["queued_at"][-6:] in ("-05:00", "-04:00")
    queued_at = pages.child.fields["queued_at"]
    assert not hasattr(queued_at, "timezone")
    # A parse after the page meets the zone current then, as DRF's would.
    parsed = queued_at.to_internal_value("2026-01-01T12:00")
    assert parsed.utcoffset() == timedelta(0)


def test_a_backends_columns_are_read_directly_and_its_properties_by_drf() -> None:
    fields = list(BackendSerializer()._readable_fields)
    direct = {f.field_name for f, read in PageSerializer.readers(fields, Backend) if read}
    # Columns, and columns through the host's foreign key: the bulk of a row.
    assert {"id", "host", "host_name", "name", "params", "size_bytes", "created_at"} <= direct
    # A property (swap_path) and the URL field, whose reads DRF owns.
    assert not {"swap_path", "url"} & direct


class JobBackend(serializers.ModelSerializer[Job]):
    """A null foreign key on a column path, read three ways DRF knows."""

    backend_id = serializers.UUIDField(source="backend.uuid", allow_null=True)
    backend_or = serializers.CharField(source="backend.name", default="no backend")
    backend_if = serializers.CharField(source="backend.name", required=False)
    host_name = serializers.CharField(source="host.name")

    class Meta:
        list_serializer_class = PageSerializer
        model = Job
        fields = ["backend_id", "backend_or", "backend_if", "host_name"]


def test_a_null_foreign_key_on_a_column_path_gives_what_drf_gives(alice: User) -> None:
    some_of_everything(alice)
    rows = list(Job.objects.select_related("backend", "host").order_by("pk"))
    page, each = both_ways(JobBackend, rows)
    assert page == each
    no_backend = [r for r in page if r["backend_id"] is None]
    assert no_backend and all(
        r == {"backend_id": None, "backend_or": "no backend", "host_name": r["host_name"]}
        for r in no_backend
    )
    assert all(read for _, read in PageSerializer.readers(
        list(JobBackend()._readable_fields), Job))  # fmt: skip


def test_a_row_gone_from_the_database_costs_the_queries_drf_spends(alice: User) -> None:
    """A deferred column of a row deleted meanwhile: DRF's read asks once and gives None;
    the page must not ask twice."""
    some_of_everything(alice)

    def deferred() -> list[Host]:
        return list(Host.objects.only("uuid", "name").order_by("pk"))

    # Each side its own rows: a deferred column read once is kept on the row.
    for_page, for_each = deferred(), deferred()
    Host.objects.filter(pk=for_page[0].pk).delete()
    request = Request(APIRequestFactory().get("/api/v1/"))
    with CaptureQueriesContext(connection) as page_sql:
        page = HostSerializer(for_page, many=True, context={"request": request}).data
    with CaptureQueriesContext(connection) as each_sql:
        each = [HostSerializer(r, context={"request": request}).data for r in for_each]
    assert page == each and page[0]["last_heartbeat"] is None
    assert len(page_sql) == len(each_sql) > 0


def test_rows_of_two_classes_and_a_generator_read_as_drf_reads_them(alice: User) -> None:
    some_of_everything(alice)
    mixed: list[Any] = [*Host.objects.all()[:2], Thing(4), {"name": "a dict"}]

    class Named(serializers.Serializer[Any]):
        name = serializers.CharField(default="-")
        n = serializers.IntegerField(required=False)

        class Meta:
            list_serializer_class = PageSerializer

    page, each = both_ways(Named, mixed)
    assert page == each
    request = Request(APIRequestFactory().get("/api/v1/"))
    gen = Named((row for row in mixed), many=True, context={"request": request}).data
    assert gen == each


def test_the_pin_comes_off_when_a_row_fails(alice: User) -> None:
    some_of_everything(alice)

    class Failing(JobSerializer):
        def get_duration_seconds(self, job: Job) -> float | None:
            raise RuntimeError("a row failed")

        class Meta(JobSerializer.Meta):
            pass

    pages = Failing(list(Job.objects.all()), many=True, context={"request": None})
    with pytest.raises(RuntimeError):
        pages.to_representation(list(Job.objects.all()))
    assert not hasattr(pages.child.fields["queued_at"], "timezone")


def test_a_column_holding_something_drf_would_call_is_called_as_drf_calls_it() -> None:
    host = Host(name="h")
    host.name = lambda: "called"  # type: ignore[assignment,method-assign]

    class Name(serializers.ModelSerializer[Host]):
        class Meta:
            list_serializer_class = PageSerializer
            model = Host
            fields = ["name"]

    page, each = both_ways(Name, [host])
    assert page == each == [{"name": "called"}]
