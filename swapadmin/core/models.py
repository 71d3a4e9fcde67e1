"""The registry: hosts, their swap backends, the jobs that change them, and the audit trail.

The kernel is the source of truth for what is active. A Backend row holds what the user
asked for (``desired_state`` and the parameters), what the host's worker last saw
(``observed_*``), and the plugin's ``state`` (the loop or zram device it attached), which
the worker hands back to the plugin so any worker process can pick the area up again.

Public UUIDs (``uuid``) are used in every URL and API payload; integer keys stay inside.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from . import actions


def db_ago(seconds: float) -> Any:
    """``now - seconds`` in the database's clock, for comparing the timestamps it wrote
    (heartbeats are written with ``Now()``): a process whose own clock is off judges no one
    by it."""
    from django.db.models.functions import Now

    return models.ExpressionWrapper(
        Now() - timedelta(seconds=seconds), output_field=models.DateTimeField()
    )


#: The largest figure a bigint column holds: a worker's odd reading above it is stored as 0.
_BIGINT_MAX = (1 << 63) - 1


class SnapshotFigure(models.Func):
    """One figure of ``Host.observed`` (``part``.``key``, e.g. meminfo.swap_total) as a plain
    number the database computes, for a generated column. Anything but a JSON number from 0
    to the bigint's maximum (a string, 1e400, a negative) reads as 0, as the pages read it
    (core.readings): the worker is another machine, and its odd figure must not fail the
    write of its sample."""

    def __init__(self, part: str, key: str, *, integer: bool = True) -> None:
        if not (part.isidentifier() and key.isidentifier()):
            raise ValueError(f"not a snapshot key: {part}.{key}")
        self.part, self.key, self.integer = part, key, integer
        output: models.Field[Any, Any]
        output = models.BigIntegerField() if integer else models.FloatField()
        super().__init__(models.F("observed"), output_field=output)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        col, params = compiler.compile(self.source_expressions[0])
        node = f"({col} -> '{self.part}' -> '{self.key}')"
        number = f"({col} -> '{self.part}' ->> '{self.key}')::numeric"
        # trunc: numeric to bigint rounds (1.5 would be 2), SQLite's CAST truncates (1):
        # one figure, the same integer on both.
        value = f"trunc({number})::bigint" if self.integer else f"{number}::double precision"
        # Nested CASEs: the only order of evaluation PostgreSQL promises, so a string is
        # never cast and a huge number never narrowed.
        sql = (
            f"CASE WHEN jsonb_typeof({node}) = 'number' THEN CASE WHEN {number} BETWEEN 0 AND "
            f"{_BIGINT_MAX} THEN {value} ELSE 0 END ELSE 0 END"
        )
        return sql, params

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        col, params = compiler.compile(self.source_expressions[0])
        path = f"'$.{self.part}.{self.key}'"
        cast = "INTEGER" if self.integer else "REAL"
        sql = (
            f"CASE WHEN json_type({col}, {path}) IN ('integer', 'real') THEN CASE WHEN "
            f"json_extract({col}, {path}) BETWEEN 0 AND {_BIGINT_MAX} THEN "
            f"CAST(json_extract({col}, {path}) AS {cast}) ELSE 0 END ELSE 0 END"
        )
        return sql, params


class SwapUsed(models.Func):
    """meminfo's swap_total less swap_free, never below 0, as SnapshotFigure reads them."""

    output_field = models.BigIntegerField()

    def __init__(self) -> None:
        super().__init__(
            SnapshotFigure("meminfo", "swap_total"), SnapshotFigure("meminfo", "swap_free")
        )

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        return self.as_sql(
            compiler, connection, template="GREATEST(0, %(expressions)s)", arg_joiner=" - "
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        return self.as_sql(
            compiler, connection, template="MAX(0, %(expressions)s)", arg_joiner=" - "
        )


def _snapshot_column(expression: models.Func) -> models.GeneratedField:
    return models.GeneratedField(
        expression=expression, output_field=expression.output_field, db_persist=True
    )


class HostQuerySet(models.QuerySet["Host"]):
    def online(self) -> HostQuerySet:
        """Hosts heard from within SWAPADMIN_OFFLINE_AFTER_SECONDS, by the database's clock."""
        return self.filter(last_heartbeat__gt=db_ago(settings.SWAPADMIN_OFFLINE_AFTER_SECONDS))


class Host(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255, unique=True)
    kernel_release = models.CharField(max_length=255, blank=True)
    page_size = models.PositiveIntegerField(default=4096)
    mem_total_bytes = models.BigIntegerField(default=0)
    #: The swap roots the worker is configured with, so the web side can refuse a path
    #: outside them before a job is queued (the worker checks again with its own setting).
    swap_roots = models.JSONField(default=list, blank=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    worker_version = models.CharField(max_length=64, blank=True)
    #: ``/etc/machine-id`` of the machine whose worker registered this host: a host is a
    #: machine, not a hostname, so a clone or another machine with the same name is refused.
    machine_id = models.CharField(max_length=64, blank=True)
    #: The kernel's boot id when the worker last started: devices do not outlive a boot.
    boot_id = models.CharField(max_length=64, blank=True)
    #: The latest snapshot from the host's worker: meminfo, rates, PSI, tunables, the swap
    #: areas it found that swapadmin does not manage, and the top swap users. Kept on the row so
    #: the overview renders from one query however many samples there are.
    observed = models.JSONField(default=dict, blank=True)
    observed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    #: ``observed``'s figures as columns the database computes from it on every write (the
    #: sampler's raw SQL, bulk_create and the ORM alike), so the overview sorts, filters and
    #: adds up a fleet over narrow columns instead of reading every host's jsonb (kilobytes
    #: each, most of the page's time at 5,000 hosts).
    snap_mem_total = _snapshot_column(SnapshotFigure("meminfo", "mem_total"))
    snap_mem_available = _snapshot_column(SnapshotFigure("meminfo", "mem_available"))
    snap_swap_total = _snapshot_column(SnapshotFigure("meminfo", "swap_total"))
    snap_swap_used = _snapshot_column(SwapUsed())
    snap_pswpin_rate = _snapshot_column(SnapshotFigure("rates", "pswpin", integer=False))
    snap_pswpout_rate = _snapshot_column(SnapshotFigure("rates", "pswpout", integer=False))

    objects = HostQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def queue(self) -> str:
        return f"host.{self.name}"

    @property
    def online(self) -> bool:
        if self.last_heartbeat is None:
            return False
        limit = timedelta(seconds=settings.SWAPADMIN_OFFLINE_AFTER_SECONDS)
        return timezone.now() - self.last_heartbeat < limit


class Backend(models.Model):
    class Desired(models.TextChoices):
        ACTIVE = "active"
        INACTIVE = "inactive"
        ABSENT = "absent"

    class Observed(models.TextChoices):
        UNKNOWN = "unknown"  # not yet seen by the worker
        ABSENT = "absent"  # no backing store on the host
        READY = "ready"  # prepared and formatted, not in /proc/swaps
        ACTIVE = "active"  # in /proc/swaps
        ERROR = "error"  # the worker could not make sense of it; see observed_error
        #: The store now at the path is not this backend's (another device after a reboot,
        #: a file replaced); nothing is written to it. See observed_error.
        FOREIGN = "foreign"
        #: Whether its area is active cannot be told: its path could not be named (a boot
        #: id or sysfs that cannot be read). Not "inactive", which would offer an activate
        #: of an area that may be on and hide its use. See observed_error; used_bytes and
        #: active_priority are as last seen. Only a thorough look (after a job, a check
        #: someone asks for, a worker's start) clears it.
        INDETERMINATE = "indeterminate", "Cannot tell"

    class Discard(models.TextChoices):
        NONE = "", "no discard"
        BOTH = "both", "discard at swapon and on freed pages"
        ONCE = "once", "discard the whole area once at swapon"
        PAGES = "pages", "discard freed pages"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="backends")
    kind = models.CharField(max_length=64)
    name = models.CharField(max_length=100)
    params = models.JSONField(default=dict, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    priority = models.IntegerField(null=True, blank=True)
    discard = models.CharField(max_length=8, choices=Discard.choices, default="", blank=True)
    label = models.CharField(max_length=16, blank=True)
    swap_uuid = models.UUIDField(null=True, blank=True)
    persist = models.BooleanField(default=False)
    auto_repair = models.BooleanField(default=False)
    #: Adopted areas were found on the host (discover), not created by swapadmin: destroying
    #: one releases it from management but never deletes its file or device.
    adopted = models.BooleanField(default=False)
    #: Set when a job on it ended without its worker's word (killed, cancel unconfirmed):
    #: the next job reads the backend again from the kernel before it starts.
    reread_before_next_job = models.BooleanField(default=False)
    #: Counts the times the flag above was set: a look clears it only if no one set it
    #: again while the look read the store (a compare-and-set, by no clock: review 174/1).
    #: The database's default too: a worker not yet upgraded, after the migration, inserts
    #: rows without it (review 176/1).
    reread_generation = models.BigIntegerField(default=0, db_default=0)
    #: When the store became this backend's: its provision completed (or it was adopted).
    #: Until then nothing but provision, destroy and checks may touch it.
    provisioned_at = models.DateTimeField(null=True, blank=True)
    #: What bytes the store is, as the worker read them from the open store (a file's
    #: device and inode, a disk's WWN or serial and partition, a zram device): one store
    #: serves one backend per host, whatever path or link names it. NULL until the worker
    #: has opened the store: NULLs never collide in the unique constraint, "" would.
    store_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001

    desired_state = models.CharField(
        max_length=16, choices=Desired.choices, default=Desired.INACTIVE
    )
    observed_state = models.CharField(
        max_length=16, choices=Observed.choices, default=Observed.UNKNOWN
    )
    observed_error = models.TextField(blank=True)
    observed_at = models.DateTimeField(null=True, blank=True)
    used_bytes = models.BigIntegerField(default=0)
    active_priority = models.IntegerField(null=True, blank=True)

    #: The plugin's own state (``SwapBackend.state``): e.g. the loop or zram device.
    state = models.JSONField(default=dict, blank=True)
    #: The plugin's ``describe()`` and the last header read, as the worker last saw them.
    info = models.JSONField(default=dict, blank=True)
    header = models.JSONField(default=dict, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    #: The host's dynamic swap policy, when it added this file and still owns it: only
    #: then may it remove it. Cleared when a person changes the backend (it is theirs then).
    dynamic_policy = models.ForeignKey(
        "DynamicSwapPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="files",
    )

    class Meta:
        ordering = ["host__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["host", "name"], name="backend_name_unique_per_host"),
            models.UniqueConstraint(
                fields=["host", "store_key"], name="backend_store_unique_per_host"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.host.name}/{self.name}"

    #: How an observed ERROR begins when the store may be on a filesystem meant to be
    #: mounted that is not (``SwapBackend.hidden``), or that cannot be told: the sampler
    #: clears only such an ERROR once it can tell, and the dynamic policy asks nothing of
    #: such a file meanwhile (reviews 182/3, 182/4).
    HIDDEN_SAID = "its store may be on a filesystem that is not mounted: "

    @property
    def store_may_be_hidden(self) -> bool:
        return self.observed_state == self.Observed.ERROR and str(self.observed_error).startswith(
            self.HIDDEN_SAID
        )

    @property
    def swap_path(self) -> str | None:
        """The path in /proc/swaps, as the worker last described it."""
        # Any JSON another machine wrote: a params that is no mapping names no path, and
        # must not stop the host's sampling (review 164/1); a path that is no string names
        # nothing (a number broke the host page: review 168/5), and then nothing else is
        # guessed for it (a loop backend's file is not the device /proc/swaps shows).
        info = self.info if isinstance(self.info, dict) else {}
        seen = info.get("swap_path")
        if seen is not None and not isinstance(seen, str):
            return None
        params = self.params if isinstance(self.params, dict) else {}
        for path in (seen, params.get("path"), params.get("device")):
            if isinstance(path, str) and path:
                return path
        return None

    @property
    def provisioned(self) -> bool:
        return self.provisioned_at is not None

    def covers_words(self) -> str:
        """Why an area at this backend's path is not another host name's to adopt (the
        machine's other names see the same disks): said by discover and by the host page."""
        return (
            f"it is the store of backend {self.name!r} on this machine already "
            f"(host {self.host.name})"
        )

    @property
    def used_fraction(self) -> float:
        size = self.info.get("size_bytes") or self.size_bytes or 0
        return self.used_bytes / size if size else 0.0


class Job(models.Model):
    """The one truth about every job: pages and the API read this row, never Celery's."""

    class Kind(models.TextChoices):
        PROVISION = "provision"
        ACTIVATE = "activate"
        DEACTIVATE = "deactivate"
        DESTROY = "destroy"
        RESIZE = "resize"
        SCAN = "scan"
        BENCHMARK = "benchmark"
        BURN_IN = "burn_in"
        DISCOVER = "discover"
        PERSIST = "persist"
        TUNE = "tune"
        CHECK = "check"
        #: Change a backend after creation: its header's label, its swapon options (now, or
        #: at the next activation), its fstab line.
        EDIT = "edit"

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Via(models.TextChoices):
        PAGE = "page"
        API = "api"
        SCHEDULE = "schedule"
        SYSTEM = "system"

    FINISHED = (State.SUCCEEDED, State.FAILED, State.CANCELLED)
    LIVE = (State.QUEUED, State.RUNNING)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="jobs")
    backend = models.ForeignKey(
        Backend, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    #: Kept when the backend row is gone (a destroyed backend's jobs stay readable).
    backend_name = models.CharField(max_length=100, blank=True)
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.QUEUED, db_index=True
    )
    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=255, blank=True)
    log = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    #: Why a queued job has not started (host offline, broker unreachable).
    waiting_reason = models.CharField(max_length=255, blank=True)
    cancel_requested = models.BooleanField(default=False)

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    via = models.CharField(max_length=16, choices=Via.choices, default=Via.SYSTEM)
    queued_at = models.DateTimeField(default=timezone.now, db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatch_attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: The worker that claimed the job (Celery hostname), its process id and its host's boot
    #: id: shown to people, and the boot id tells a job of a host that rebooted since.
    worker = models.CharField(max_length=255, blank=True)
    worker_pid = models.IntegerField(null=True, blank=True)
    boot_id = models.CharField(max_length=64, blank=True)
    #: The worker process's own word that it still runs the job, in the database's clock
    #: (never the host's): a job without it for SWAPADMIN_JOB_STALE_SECONDS is failed.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    #: Retries made so far: kept here, so no message can set how many are left.
    attempt = models.PositiveSmallIntegerField(default=0)
    #: When someone asked the job to stop, queued or running (a worker confirms a running
    #: one's cancel by ending it).
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    #: What the control plane authorised, as canonical JSON, and its Ed25519 signature
    #: (core/signing.py): the worker runs the job only if both verify and the rows it
    #: reloads still say the same. Empty: created where no signing key is, and refused.
    signed_spec = models.TextField(blank=True)
    signature = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["-queued_at"]
        indexes = [
            models.Index(fields=["backend", "state"]),
            models.Index(fields=["host", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.backend_name or self.host.name} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in self.FINISHED

    @property
    def kind_word(self) -> str:
        """The kind as pages and messages say it ("burn-in"); ``kind`` is the API's key."""
        return actions.kind_word(self.kind)

    @property
    def doing(self) -> str:
        """The job holding something, for a busy refusal: "burn-in job <uuid> is running"."""
        return f"{self.kind_word} job {self.uuid} is {self.state}"

    @property
    def duration(self) -> timedelta | None:
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class AuditEvent(models.Model):
    """Who did what to which object, from where, with what outcome: written for every change."""

    class Outcome(models.TextChoices):
        OK = "ok"
        QUEUED = "queued"
        REFUSED = "refused"
        FAILED = "failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    #: The username, or "schedule"/"system"; kept when the user is deleted.
    actor_name = models.CharField(max_length=150)
    via = models.CharField(max_length=16, choices=Job.Via.choices)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=32)
    object_uuid = models.UUIDField(null=True, blank=True)
    object_repr = models.CharField(max_length=255)
    host = models.ForeignKey(Host, null=True, blank=True, on_delete=models.SET_NULL)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.object_repr}"


class Sample(models.Model):
    """One reading of a host's memory and swap, taken by its worker.

    Raw samples are rolled up into minute and hour averages and then deleted
    (core.retention), so a year of samples from hundreds of hosts stays bounded.
    """

    class Resolution(models.TextChoices):
        RAW = "raw"
        MINUTE = "1m"
        HOUR = "1h"

    #: Its own index stays, though (host, resolution, at) below leads with the host: dropping
    #: it made Django drop and re-add the foreign key, validating every sample under an
    #: exclusive lock on core_host and core_sample (on SQLite, a copy of the table), which
    #: would stop a running fleet for the whole upgrade.
    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField()
    resolution = models.CharField(max_length=4, choices=Resolution.choices, default=Resolution.RAW)
    mem_total = models.BigIntegerField(default=0)
    mem_available = models.BigIntegerField(default=0)
    swap_total = models.BigIntegerField(default=0)
    swap_free = models.BigIntegerField(default=0)
    swap_cached = models.BigIntegerField(default=0)
    #: Pages per second, from the pswpin/pswpout counters' difference to the previous sample.
    pswpin_rate = models.FloatField(default=0)
    pswpout_rate = models.FloatField(default=0)
    psi_some_avg10 = models.FloatField(default=0)
    psi_full_avg10 = models.FloatField(default=0)
    #: Used bytes per managed backend, by backend UUID (str); in a roll-up, their average.
    backends = models.JSONField(default=dict, blank=True)
    #: In a roll-up, the most each backend held in its bucket: an average hides a burst (40
    #: MiB for one 5 s reading is 3 MiB over a minute), and dynamic swap must not take a
    #: burst for stray pages. None in a raw reading, and in roll-ups made before it was kept.
    backends_peak = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-at"]
        indexes = [
            # A host's chart, and its roll-ups.
            models.Index(fields=["host", "resolution", "at"]),
            # Retention's deletes (a resolution's rows older than its keep time, every 5
            # minutes, every host at once), which would read the whole table without it: a
            # year of 5,000 hosts is tens of millions of rows. Not BRIN: the raw rows older
            # than 2 hours lie among every roll-up older than 2 hours, so ranges of blocks
            # by time cannot tell them apart (docs/BENCHMARKS-control-plane.md, table 4).
            models.Index(fields=["resolution", "at"], name="core_sample_resolution_at"),
        ]

    def __str__(self) -> str:
        return f"{self.host_id} {self.resolution} {self.at:%Y-%m-%d %H:%M:%S}"

    @property
    def swap_used(self) -> int:
        return self.swap_total - self.swap_free

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "swap_used": self.swap_used,
            "swap_total": self.swap_total,
            "mem_available": self.mem_available,
            "pswpin_rate": self.pswpin_rate,
            "pswpout_rate": self.pswpout_rate,
            "psi_some_avg10": self.psi_some_avg10,
        }


class DynamicSwapPolicy(models.Model):
    """A host's dynamic swap (off by default): keep free swap above ``min_free_bytes`` (and
    memory pressure below ``psi_some_above``) by adding files of ``file_size_bytes`` in the
    host's first swap root, up to ``max_files`` and ``max_total_bytes``; remove those unused
    for ``unused_for_seconds``. Decided by the control plane (core/dynamic.py), done by the
    same signed jobs as any backend's."""

    host = models.OneToOneField(Host, on_delete=models.CASCADE, related_name="dynamic_swap")
    enabled = models.BooleanField(default=False)
    min_free_bytes = models.BigIntegerField(default=256 << 20)
    psi_some_above = models.FloatField(null=True, blank=True)
    file_size_bytes = models.BigIntegerField(default=512 << 20)
    max_files = models.PositiveSmallIntegerField(default=4)
    max_total_bytes = models.BigIntegerField(default=2 << 30)
    unused_for_seconds = models.FloatField(default=600.0)
    cooldown_seconds = models.FloatField(default=120.0)
    #: The swapon priority of its files; None: the kernel's (below every area given one).
    priority = models.IntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    #: The latest round's verdict, acted on or not ("free swap 300 MiB is enough"), and when.
    status = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"dynamic swap of {self.host.name}"


class DynamicSwapDecision(models.Model):
    """What the policy did (or did not) and why: the host page shows the latest ones.
    A round that decides the same "nothing" as the one before leaves no new row."""

    class Action(models.TextChoices):
        ADD = "add"
        ACTIVATE = "activate"
        REMOVE = "remove"
        DESTROY = "destroy"
        REFUSED = "refused"
        RELEASED = "released"
        NONE = "none"

    policy = models.ForeignKey(
        DynamicSwapPolicy, on_delete=models.CASCADE, related_name="decisions"
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    backend_name = models.CharField(max_length=100, blank=True)
    reason = models.TextField()
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.backend_name}"
