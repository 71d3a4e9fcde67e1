"""Small serializers: public UUIDs as ``id``, ISO 8601 times, sizes in bytes.

Read serializers are plain ModelSerializers. Write serializers only check types and bounds;
the rules (names, plugin parameters, swap roots, force and its confirmation) live in
swapadmin.core.services, shared with the pages.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, cast

from django.core.exceptions import ObjectDoesNotExist
from django.db.models.fields.related_descriptors import ForwardManyToOneDescriptor
from django.db.models.manager import BaseManager
from django.db.models.query_utils import DeferredAttribute
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import Field
from rest_framework.relations import PKOnlyObject

from swapadmin.core import actions
from swapadmin.core.models import AuditEvent, Backend, Host, Job
from swapadmin.core.services import MAX_PRIORITY

#: The largest size PostgreSQL's bigint holds; larger numbers are refused as input errors.
MAX_BYTES = 2**63 - 1


class DetailUrlField(serializers.HyperlinkedIdentityField):
    """The object's absolute URL, as HyperlinkedIdentityField gives it, from one reverse()
    per request instead of one per row: resolving the URLconf was a third of the time of a
    page of 1000 backends. The id is put into the URL the first reverse() made."""

    #: A value the lookup's pattern takes that no reverse() escapes and no URL holds.
    PLACEHOLDER = "swapadminlookupplaceholder"

    def get_url(self, obj: Any, view_name: str, request: Any, format: Any) -> str | None:
        if getattr(obj, "pk", None) in (None, ""):
            return None
        key = (id(request), format)
        if getattr(self, "_template", (None, ""))[0] != key:
            kwargs = {self.lookup_url_kwarg: self.PLACEHOLDER}
            url: str = self.reverse(view_name, kwargs=kwargs, request=request, format=format)
            self._template = (key, url)
        return self._template[1].replace(self.PLACEHOLDER, str(getattr(obj, self.lookup_field)))


def _column_path(model: Any, attrs: list[str]) -> bool:
    """Whether ``attrs`` walks from a ``model`` row through foreign keys to a column, every
    step a Django field descriptor: nothing on it that DRF would call, no property that
    could raise or do work, no mapping read by key. Only such a path is read directly."""
    if not attrs:
        return False
    for i, attr in enumerate(attrs):
        if not isinstance(model, type) or issubclass(model, Mapping):
            return False  # DRF reads a mapping by key
        step = getattr(model, attr, None)
        if isinstance(step, ForwardManyToOneDescriptor):
            model = step.field.related_model
        elif not (isinstance(step, DeferredAttribute) and i == len(attrs) - 1):
            return False
    return True


#: A readable field, with its direct read of a column path or None for DRF's own read.
Reader = tuple[Any, Callable[[Any], Any] | None]


class PageSerializer(serializers.ListSerializer[Any]):
    """A page of rows, represented as DRF's ``Serializer.to_representation`` represents
    each, with what DRF works out again for every row worked out once per page: the
    readable fields; for a path of columns through foreign keys, a plain read instead of
    DRF's per-step mapping and callable checks; and the current time zone, which DRF asks
    Django's context-local for once per date per row. Under cProfile, DRF's representation
    was 58% of a 1,000-backend page, and these repeats more than half of it (1.06 s -> 0.45 s
    over five pages); docs/BENCHMARKS-control-plane.md has the timings.
    Anything else (a property, a method, a dictionary row, a value DRF would call, a child
    with its own ``to_representation``) is read by DRF itself. The time zone is the one
    current when the page starts: a field that overrides it for one row's dates (none
    does) would not be seen.
    tests/api/test_a_page_of_rows_reads_as_drf_reads_each_row.py holds the two equal."""

    def to_representation(self, data: Any) -> list[dict[str, Any]]:
        child = self.child
        assert child is not None
        if type(child).to_representation is not serializers.Serializer.to_representation:
            return super().to_representation(data)
        rows: Iterable[Any] = data.all() if isinstance(data, BaseManager) else data
        fields = list(child._readable_fields)  # type: ignore[attr-defined]
        readers: dict[type, list[Reader]] = {}
        with _zone_pinned(fields):
            return [
                self._row(row, readers.get(type(row)) or readers.setdefault(
                    type(row), self.readers(fields, type(row))))
                for row in rows
            ]  # fmt: skip

    @staticmethod
    def readers(fields: list[Any], row_type: type) -> list[Reader]:
        """Each field with its direct read for rows of ``row_type``, or None for DRF's."""
        return [
            # attrgetter("host.name"): None on the way raises AttributeError, and DRF reads it.
            (field, operator.attrgetter(".".join(field.source_attrs))
             if type(field).get_attribute is Field.get_attribute
             and _column_path(row_type, field.source_attrs) else None)
            for field in fields
        ]  # fmt: skip

    @staticmethod
    def _row(row: Any, readers: list[Reader]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field, read in readers:
            try:
                value = _read(field, read, row)
            except serializers.SkipField:
                continue
            pk = value.pk if isinstance(value, PKOnlyObject) else value
            out[field.field_name] = None if pk is None else field.to_representation(value)
        return out


def _read(field: Any, read: Callable[[Any], Any] | None, row: Any) -> Any:
    """``field``'s value of ``row``: its direct read where it has one and that read meets
    nothing unusual, else DRF's ``get_attribute`` (which may raise SkipField)."""
    if read is not None:
        try:
            value = read(row)
        except ObjectDoesNotExist:
            # A related row that is not there: DRF gives None, and a second read would
            # only ask the database again.
            return None
        except AttributeError:
            pass  # None on the way (a null foreign key): DRF's read says what that gives
        else:
            if not callable(value):
                return value
    return field.get_attribute(row)


@contextlib.contextmanager
def _zone_pinned(fields: list[Any]) -> Iterator[None]:
    """Each date field of the page told the current time zone for the page's length:
    ``enforce_timezone()`` reads a field's ``timezone`` before it asks
    ``default_timezone()``. Fields that have their own are left alone, and the pin is
    taken off after, so a later page or a parse meets the zone current then."""
    pinned = [
        f for f in fields
        if isinstance(f, serializers.DateTimeField) and not hasattr(f, "timezone")
    ]  # fmt: skip
    for f in pinned:
        f.timezone = f.default_timezone()  # type: ignore[assignment]
    try:
        yield
    finally:
        for f in pinned:
            del f.timezone


class HostSerializer(serializers.ModelSerializer[Host]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    url = DetailUrlField(view_name="api:host-detail", lookup_field="uuid")
    online = serializers.BooleanField(read_only=True)
    observed = serializers.JSONField(read_only=True)

    class Meta:
        list_serializer_class = PageSerializer
        model = Host
        fields = [
            "id",
            "url",
            "name",
            "online",
            "kernel_release",
            "page_size",
            "mem_total_bytes",
            "swap_roots",
            "worker_version",
            "last_heartbeat",
            "observed",
            "observed_at",
            "created_at",
        ]
        read_only_fields = fields


class BackendSerializer(serializers.ModelSerializer[Backend]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    url = DetailUrlField(view_name="api:backend-detail", lookup_field="uuid")
    host = serializers.UUIDField(source="host.uuid", read_only=True)
    host_name = serializers.CharField(source="host.name", read_only=True)
    swap_path = serializers.CharField(read_only=True, allow_null=True)
    params = serializers.JSONField(read_only=True)

    class Meta:
        list_serializer_class = PageSerializer
        model = Backend
        fields = [
            "id",
            "url",
            "host",
            "host_name",
            "kind",
            "name",
            "params",
            "swap_path",
            "size_bytes",
            "used_bytes",
            "priority",
            "active_priority",
            "discard",
            "label",
            "swap_uuid",
            "persist",
            "auto_repair",
            "adopted",
            "desired_state",
            "observed_state",
            "observed_error",
            "observed_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        # A reader must not take a last-seen figure for the kernel's word now (review 159).
        extra_kwargs = {
            "used_bytes": {
                "help_text": "bytes of the area in use, 0 when it is not active; while "
                "observed_state is 'indeterminate', the figure last seen, not now"
            },
            "active_priority": {
                "help_text": "the kernel's priority for the area while it is active; while "
                "observed_state is 'indeterminate', as last seen, not now"
            },
        }


class BackendParamsSerializer(serializers.Serializer[Any]):
    """The plugin's own parameters; which apply depends on ``kind`` (see ``plugins/``)."""

    path = serializers.CharField(required=False, help_text="file and loop: the swap file")
    device = serializers.CharField(required=False, help_text="block: the device node")
    algorithm = serializers.CharField(required=False, help_text="zram: compression algorithm")
    mem_limit_bytes = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_BYTES, help_text="zram: memory limit"
    )


class ParamsField(serializers.DictField):
    """A free-form object: plugins validate their own keys, and third-party kinds add more."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("not_a_dict", input_type=type(data).__name__)
        return dict(data)


@extend_schema_field(BackendParamsSerializer)
class BackendParamsField(ParamsField):
    pass


def confirm_field() -> serializers.CharField:
    """The typed confirmation that every forced action needs (services._check_force)."""
    return serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text="with force: the backend's name, typed again",
    )


class BackendCreateSerializer(serializers.Serializer[Any]):
    host = serializers.UUIDField(help_text="the host's id")
    kind = serializers.CharField(max_length=64, help_text="a plugin name, see plugins/")
    name = serializers.CharField(max_length=100)
    size_bytes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_BYTES
    )
    priority = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_PRIORITY
    )
    discard = serializers.ChoiceField(
        choices=Backend.Discard.choices, required=False, allow_blank=True, default=""
    )
    # The field, not Field.label: DRF's metaclass takes declared fields out of the class.
    label = serializers.CharField(  # type: ignore[assignment]
        required=False, allow_blank=True, default="", max_length=16, trim_whitespace=False
    )
    persist = serializers.BooleanField(required=False, default=False)
    auto_repair = serializers.BooleanField(
        required=False,
        default=False,
        help_text="let health checks bring it back to its desired state",
    )
    force = serializers.BooleanField(
        required=False, default=False, help_text="format a device that holds a signature"
    )
    confirm = confirm_field()
    params = BackendParamsField(required=False, default=dict)
    activate = serializers.BooleanField(
        required=False,
        default=False,
        help_text="swapon once provisioned, in the same job (one request, one job to follow)",
    )

    def validate_host(self, value: Any) -> Host:
        host = Host.objects.filter(uuid=value).first()
        if host is None:
            raise serializers.ValidationError(f"no host has the id {value}")
        return host


class BackendEditSerializer(serializers.Serializer[Any]):
    """PATCH: any of these; a field not listed is refused by name (core/edits.py checks it)."""

    # The field, not Field.label: DRF's metaclass takes declared fields out of the class.
    label = serializers.CharField(  # type: ignore[assignment]
        required=False,
        allow_blank=True,
        max_length=16,
        trim_whitespace=False,
        help_text="the swap header's label (at most 16 bytes), rewritten in place; only on an "
        "inactive area swapadmin made",
    )
    priority = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=-1,
        max_value=MAX_PRIORITY,
        help_text="-1 or null: the kernel's choice",
    )
    discard = serializers.ChoiceField(
        choices=Backend.Discard.choices, required=False, allow_blank=True
    )
    persist = serializers.BooleanField(required=False, help_text="keep the area in the fstab")
    auto_repair = serializers.BooleanField(required=False)
    apply = serializers.ChoiceField(
        choices=["now", "next_activation"],
        required=False,
        default="next_activation",
        help_text="new priority or discard on an active area: now (swapoff with the RAM "
        "check, then swapon) or at its next activation",
    )


class ForceSerializer(serializers.Serializer[Any]):
    force = serializers.BooleanField(
        required=False, default=False, help_text="swapoff even beyond the RAM check"
    )
    confirm = confirm_field()


class ProvisionSerializer(serializers.Serializer[Any]):
    force = serializers.BooleanField(
        required=False,
        default=False,
        help_text="overwrite what the store holds (a filesystem, a file swapadmin did not make)",
    )
    confirm = confirm_field()


class ActivateSerializer(serializers.Serializer[Any]):
    priority = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_PRIORITY
    )


@functools.cache
def settings_body(spec: actions.BackendAction) -> type[serializers.Serializer[Any]]:
    """The body of an action whose parameters are the table's whole-number settings, made
    from them: the bounds the services check and the page asks, written once. One class an
    action (cached), named as the table names it, so the schema's component is stable."""
    fields = {
        s.name: serializers.IntegerField(
            required=False, min_value=s.low, max_value=s.high, help_text=s.help
        )
        for s in spec.settings
    }
    # type() goes through Serializer's metaclass, which gathers the fields as a class does.
    return type(spec.body, (serializers.Serializer,), fields)


def body_of(spec: actions.BackendAction) -> type[serializers.Serializer[Any]]:
    """An action's API body: made from its settings, or the class of this module the table
    names."""
    if spec.settings:
        return settings_body(spec)
    return cast(type[serializers.Serializer[Any]], globals()[spec.body])


class ResizeSerializer(serializers.Serializer[Any]):
    size_bytes = serializers.IntegerField(min_value=0, max_value=MAX_BYTES)


class PersistSerializer(serializers.Serializer[Any]):
    persist = serializers.BooleanField(
        required=False, default=True, help_text="true: keep in fstab; false: remove"
    )


class EmptySerializer(serializers.Serializer[Any]):
    pass


class DiscoverSerializer(serializers.Serializer[Any]):
    paths = serializers.ListField(
        child=serializers.CharField(max_length=4096),
        required=False,
        max_length=64,
        help_text="Adopt only these areas, as /proc/swaps or the fstab names them; "
        "leave out to adopt every unmanaged one.",
    )


class TuneSerializer(serializers.Serializer[Any]):
    swappiness = serializers.IntegerField(required=False, min_value=0, max_value=200)
    page_cluster = serializers.IntegerField(required=False, min_value=0, max_value=10)
    zswap_enabled = serializers.BooleanField(required=False)
    zswap_compressor = serializers.RegexField(
        r"^[a-z0-9_-]{1,32}$", required=False, help_text="e.g. lz4, zstd, lzo-rle"
    )
    zswap_max_pool_percent = serializers.IntegerField(required=False, min_value=1, max_value=100)
    persist = serializers.BooleanField(
        required=False, default=False, help_text="also keep the values in the sysctl.d file"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not set(attrs) - {"persist"}:
            raise serializers.ValidationError("name at least one tunable to set")
        return attrs


class JobSerializer(serializers.ModelSerializer[Job]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    url = DetailUrlField(view_name="api:job-detail", lookup_field="uuid")
    host = serializers.UUIDField(source="host.uuid", read_only=True)
    host_name = serializers.CharField(source="host.name", read_only=True)
    backend = serializers.UUIDField(source="backend.uuid", read_only=True, allow_null=True)
    requested_by = serializers.CharField(
        source="requested_by.username", read_only=True, allow_null=True
    )
    params = serializers.JSONField(read_only=True)
    result = serializers.JSONField(read_only=True)
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        list_serializer_class = PageSerializer
        model = Job
        fields = [
            "id",
            "url",
            "kind",
            "state",
            "host",
            "host_name",
            "backend",
            "backend_name",
            "params",
            "progress",
            "progress_message",
            "waiting_reason",
            "attempt",
            "cancel_requested",
            "cancel_requested_at",
            "log",
            "result",
            "error",
            "requested_by",
            "via",
            "queued_at",
            "dispatched_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "worker",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "error": {
                "help_text": (
                    "Why the job failed, once it has ended; a job cancelled after a try "
                    "that failed in a way worth another may keep that failure. While such "
                    "a job waits for its next try (queued, attempt above 0) and while that "
                    "try runs, the failure it is for; cleared if the try succeeds."
                )
            },
            "cancel_requested": {
                "help_text": (
                    "A cancel was asked of the job, queued or running. A queued one ends at "
                    "once; a running one stops at its next cancel point, or finishes if it "
                    "is past its last, and is failed by the sweep if its worker does not "
                    "confirm within SWAPADMIN_CANCEL_GRACE_SECONDS."
                )
            },
            "cancel_requested_at": {
                "help_text": (
                    "When the cancel was first asked (asking again keeps it): the sweep "
                    "fails a running job whose worker has not confirmed by this time plus "
                    "SWAPADMIN_CANCEL_GRACE_SECONDS. Null when no cancel was asked, or for a "
                    "row flagged without a time (another machine's), which the sweep never "
                    "fails: asking again records one."
                )
            },
            "attempt": {
                "help_text": (
                    "How many times the job was queued again for another try: 0 on its "
                    "first. Counted by its worker, never by a message."
                )
            },
        }

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_duration_seconds(self, job: Job) -> float | None:
        d = job.duration
        return None if d is None else d.total_seconds()


class ConflictSerializer(serializers.Serializer[Any]):
    """409: the backend is busy (``job`` is the one holding it), it cannot do this at all
    for now (``job`` is null and ``detail`` says why), or a cancel found the job ended
    (``job`` is that job, as the cancel left it: unchanged)."""

    detail = serializers.CharField()
    job = JobSerializer(allow_null=True)


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()


class FieldErrorsSerializer(serializers.Serializer[Any]):
    """400: messages per field. Only a name for the schema (swapadmin.api.schema maps it): the
    keys are the request's own fields and parameters, which no fixed record can list."""


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    actor = serializers.CharField(source="actor_name", read_only=True)
    object_id = serializers.UUIDField(source="object_uuid", read_only=True, allow_null=True)
    host = serializers.UUIDField(source="host.uuid", read_only=True, allow_null=True)
    detail = serializers.JSONField(read_only=True)

    class Meta:
        list_serializer_class = PageSerializer
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor",
            "via",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "host",
            "source_ip",
            "outcome",
            "detail",
        ]
        read_only_fields = fields


class PluginSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    # The field, not Field.label: DRF's metaclass takes declared fields out of the class.
    label = serializers.CharField()  # type: ignore[assignment]
    description = serializers.CharField()
    takes_size = serializers.BooleanField()
    resizable = serializers.BooleanField()
    parameters = serializers.JSONField(help_text="a JSON Schema object for params")


# ---- history: a range of stored samples at a step (swapadmin.core.history) ----


class InstantField(serializers.DateTimeField):
    """ISO 8601 (UTC without an offset), or Unix seconds as Prometheus and Grafana send them.
    Documented as a date-time: generated clients send that."""

    default_error_messages = {
        "invalid": "not a time: use ISO 8601 (2026-01-31T12:00:00Z) or Unix seconds",
    }

    def to_internal_value(self, value: Any) -> Any:
        text = str(value).strip()
        # ASCII digits only: str.isdigit and float() also take Arabic-Indic or full-width
        # digits, and "since=٣" would mean 1970.
        if re.fullmatch(r"-?(\d+\.?\d*|\.\d+)", text, re.ASCII):
            from datetime import UTC, datetime

            try:
                return datetime.fromtimestamp(float(text), tz=UTC)
            except (OverflowError, OSError, ValueError):
                self.fail("overflow")
        return super().to_internal_value(value)


class HistoryQuerySerializer(serializers.Serializer[Any]):
    since = InstantField(
        required=False,
        help_text="start of the range, included (ISO 8601, or Unix seconds); default: an "
        "hour before until",
    )
    until = InstantField(
        required=False,
        help_text="end of the range, excluded (ISO 8601, or Unix seconds); default: now",
    )
    step = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=366 * 86400,
        help_text="seconds a point averages; default: the range in about 240 points. At "
        "most 11000 points a range",
    )


# Each serializes a dict: ``window`` (core.history.Window), ``resolution``, ``points``, and
# the host or backend.
class HistorySerializer(serializers.Serializer[Any]):
    since = serializers.DateTimeField(source="window.since")
    until = serializers.DateTimeField(source="window.until")
    step = serializers.SerializerMethodField(help_text="seconds each point averages")
    resolution = serializers.ChoiceField(
        choices=[("raw", "raw readings"), ("1m", "minute averages"), ("1h", "hour averages")],
        help_text="the stored samples read: the coarsest no coarser than the step that is "
        "still kept for the range, then finer rows newer than the last coarse one",
    )

    def get_step(self, obj: dict[str, Any]) -> int:
        return int(obj["window"].step.total_seconds())


class HostPointSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField(help_text="start of the step")
    mem_total = serializers.IntegerField(help_text="bytes (MemTotal)")
    mem_available = serializers.IntegerField(help_text="bytes (MemAvailable)")
    swap_total = serializers.IntegerField(help_text="bytes (SwapTotal)")
    swap_free = serializers.IntegerField(help_text="bytes (SwapFree)")
    swap_used = serializers.IntegerField(help_text="bytes (SwapTotal - SwapFree)")
    swap_cached = serializers.IntegerField(help_text="bytes (SwapCached)")
    pswpin_rate = serializers.FloatField(help_text="pages swapped in per second")
    pswpout_rate = serializers.FloatField(help_text="pages swapped out per second")
    psi_some_avg10 = serializers.FloatField(help_text="memory PSI some avg10, percent")
    psi_full_avg10 = serializers.FloatField(help_text="memory PSI full avg10, percent")


class BackendPointSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField(help_text="start of the step")
    used_bytes = serializers.IntegerField(help_text="bytes of the area in use")


class HostHistorySerializer(HistorySerializer):
    host = serializers.UUIDField(source="host.uuid")
    points = HostPointSerializer(
        many=True,
        help_text="the mean of each step that had readings, oldest first; no point for a "
        "step without one",
    )


class BackendHistorySerializer(HistorySerializer):
    backend = serializers.UUIDField(source="backend.uuid")
    host = serializers.UUIDField(source="backend.host.uuid")
    points = BackendPointSerializer(
        many=True,
        help_text="the mean of each step in which the area was active, oldest first",
    )


class DynamicSwapDecisionSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    action = serializers.CharField()
    backend = serializers.CharField(source="backend_name")
    reason = serializers.CharField()
    job = serializers.UUIDField(source="job.uuid", allow_null=True, default=None)


class DynamicSwapSerializer(serializers.Serializer[Any]):
    """A host's dynamic swap policy. Reading shows its latest verdict, the files it owns
    and its recent decisions; a PATCH changes any of the writable fields, the rules
    (swapadmin.core.dynamic.update_policy) checked on the whole."""

    enabled = serializers.BooleanField(required=False)
    min_free_bytes = serializers.IntegerField(min_value=0, max_value=MAX_BYTES, required=False)
    psi_some_above = serializers.FloatField(
        min_value=0, max_value=100, allow_null=True, required=False
    )
    file_size_bytes = serializers.IntegerField(min_value=0, max_value=MAX_BYTES, required=False)
    max_files = serializers.IntegerField(min_value=1, max_value=64, required=False)
    max_total_bytes = serializers.IntegerField(min_value=0, max_value=MAX_BYTES, required=False)
    unused_for_seconds = serializers.FloatField(min_value=0, max_value=1e9, required=False)
    cooldown_seconds = serializers.FloatField(min_value=0, max_value=1e9, required=False)
    priority = serializers.IntegerField(
        min_value=0, max_value=MAX_PRIORITY, allow_null=True, required=False
    )
    status = serializers.CharField(read_only=True)
    decided_at = serializers.DateTimeField(read_only=True)
    files = serializers.SerializerMethodField()
    decisions = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_files(self, policy: Any) -> list[str]:
        return sorted(policy.files.values_list("name", flat=True))

    @extend_schema_field(DynamicSwapDecisionSerializer(many=True))
    def get_decisions(self, policy: Any) -> list[dict[str, Any]]:
        from swapadmin.core.dynamic import decisions

        # many=True makes a ListSerializer, whose data is a list; the stubs type the call as
        # the single serializer, whose data is a dict.
        data = DynamicSwapDecisionSerializer(decisions(policy), many=True).data
        return cast(list[dict[str, Any]], data)
