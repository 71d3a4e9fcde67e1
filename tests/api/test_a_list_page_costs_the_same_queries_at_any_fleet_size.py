"""A page of any list costs the same SQL queries for 5 hosts as for 40, and a cursor page the
same on the first page as deep into a walk, with no COUNT and no OFFSET: the two things whose
cost grows with the table. A query per row (an N+1) or per page of depth would show here
long before a 5,000-host fleet made it slow (bench/bench_control_plane.py has the times)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from swapadmin.api.views import BackendViewSet, JobViewSet
from swapadmin.core.models import AuditEvent, Backend, Host, Job
from swapadmin.health.models import BackendHealth, HealthEvent, HostHealth
from tests.fixtures.tokens import token_for

LISTS = ["hosts", "backends", "jobs", "audit", "health", "health-events"]


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api(alice: User) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token_for(alice)}")


def grow_fleet_to(count: int, requested_by: User) -> None:
    """Hosts with backends, health, a job each (with the user who asked) and audit events, so
    every relation a list's serializer follows has rows to follow."""
    now = timezone.now()
    for i in range(Host.objects.count(), count):
        host = Host.objects.create(name=f"q{i:03d}", last_heartbeat=now, observed={"x": i})
        HostHealth.objects.create(host=host, status="warn", summary="PSI")
        for j in range(3):
            backend = Backend.objects.create(
                host=host, kind="file", name=f"s{j}", params={"path": f"/s{j}"}
            )
            BackendHealth.objects.create(backend=backend, status="ok", summary="fine")
        Job.objects.create(kind=Job.Kind.SCAN, host=host, backend=backend,
                           requested_by=requested_by)  # fmt: skip
        AuditEvent.objects.create(actor_name="alice", action="scan", object_type="backend",
                                  host=host, object_uuid=backend.uuid)  # fmt: skip
        HealthEvent.objects.create(host=host, backend=backend, from_status="ok", to_status="warn")


def sql_of(api: Client, url: str) -> list[str]:
    api.get(url)  # warm: the token's user and groups are read once per client
    with CaptureQueriesContext(connection) as ctx:
        r = api.get(url)
    assert r.status_code == 200, r.content[:300]
    return [q["sql"] for q in ctx.captured_queries]


def test_a_full_page_costs_the_same_at_5_and_at_40_hosts(api: Client, alice: User) -> None:
    urls = [f"/api/v1/{name}/?{style}=1000" for name in LISTS for style in ("page_size", "limit")]
    grow_fleet_to(5, alice)
    small = {url: len(sql_of(api, url)) for url in urls}
    grow_fleet_to(40, alice)
    large = {url: len(sql_of(api, url)) for url in urls}
    assert large == small
    # The page of 1000 held every row: the count above is for a page of 40 rows, not 5.
    assert len(api.get("/api/v1/hosts/?page_size=1000").json()["results"]) == 40


def test_a_deep_cursor_page_costs_what_the_first_does(api: Client, alice: User) -> None:
    grow_fleet_to(30, alice)
    for name in LISTS:
        url = f"/api/v1/{name}/?page_size=2"
        first = sql_of(api, url)
        for _ in range(10):
            url = api.get(url).json()["next"]
        deep = sql_of(api, url)
        assert len(deep) == len(first), name
        for sql in deep:
            assert "COUNT(" not in sql.upper(), (name, sql)
            assert " OFFSET " not in sql.upper(), (name, sql)


@pytest.mark.parametrize(
    ("name", "view", "table", "skipped"),
    [
        ("backends", BackendViewSet, "core_backend", ("state", "header")),
        ("jobs", JobViewSet, "core_job", ("signed_spec", "signature")),
    ],
)
def test_a_list_reads_none_of_the_columns_its_rows_never_show(
    api: Client, alice: User, name: str, view: Any, table: str, skipped: tuple[str, ...]
) -> None:
    """The worker's bookkeeping on each row (a backend's plugin state and last read header,
    a job's signed spec) is not read for a page of rows that never shows it; one row's
    detail still reads the whole row, which the services need. Every name the view skips
    is pinned here, so a misspelt one (which ``only()`` would never meet) fails too."""
    assert view.list_skipped == skipped
    grow_fleet_to(3, alice)
    listed = " ".join(sql_of(api, f"/api/v1/{name}/?limit=1000"))
    uuid = api.get(f"/api/v1/{name}/?limit=1").json()["results"][0]["id"]
    detail = " ".join(sql_of(api, f"/api/v1/{name}/{uuid}/"))
    for column in skipped:
        assert f'"{table}"."{column}"' not in listed, column
        assert f'"{table}"."{column}"' in detail, column
