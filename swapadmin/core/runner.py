"""The JobRunner: one job's life on its host's worker, from claim to finished row.

A message only names a job; everything else is read again here. The runner reloads the row,
refuses a job for another host, takes the backend's lock (a file lock under the data
directory, held by this process only), claims the row with a conditional UPDATE, rebuilds
the plugin from the row with the host's own policy (so a path edited in the database
outside the swap roots is refused here too), runs the handler, and writes progress, log,
result and the finished state. The backend's observed state is refreshed from the kernel
after every job, whatever happened.
"""

from __future__ import annotations

import copy
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Concat, Now
from django.utils import timezone

from backends import BackendError, Policy, SwapBackend, registry
from backends.errors import NotOursError
from backends.store import Store, boot_id

from . import finished, signing
from .liveness import REGISTRY
from .models import Backend, Host, Job
from .sampler import observe_backend, read_observation, write_observation

log = logging.getLogger(__name__)

#: How often progress and the cancel flag go to and come from the database, at most.
THROTTLE_SECONDS = 0.5
#: A retryable error is tried again this many times, after 5, 10, 20 seconds.
MAX_RETRIES = 3
RETRY_BASE_SECONDS = 5.0
#: A job whose backend is locked by another job here is sent again after this delay.
BUSY_DELAY_SECONDS = 2.0
DB_ERRORS = (OperationalError, InterfaceError)


def _drop_dead_connection() -> None:
    """After a connection error, let Django open a new connection on the next query (it
    never does by itself inside a request-less worker). Not inside an atomic block, whose
    owner must see the error and roll back."""
    if not connection.in_atomic_block:
        connection.close()


def best_effort(write: Callable[[], Any], what: str) -> Any:
    """Progress, log lines and cancel checks: worth one try, never worth failing a job."""
    try:
        return write()
    except DB_ERRORS as e:
        _drop_dead_connection()
        log.warning("could not write %s to the database: %s", what, e)
        return None


def persistent(write: Callable[[], Any], what: str) -> Any:
    """A write the job's outcome depends on: retried, on a fresh connection each time, for
    up to SWAPADMIN_DB_OUTAGE_SECONDS (a PostgreSQL restart); the caller decides what
    happens after (the job's end goes to the heartbeat thread, core/liveness.py)."""
    deadline = time.monotonic() + settings.SWAPADMIN_DB_OUTAGE_SECONDS
    delay = 0.5
    while True:
        try:
            return write()
        except DB_ERRORS as e:
            _drop_dead_connection()
            if time.monotonic() >= deadline:
                raise
            log.warning("database unreachable while %s (%s); again in %.1f s", what, e, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


class Cancelled(Exception):
    """The user asked to cancel; raised between steps or after pageio stopped early."""


class Busy(Exception):
    """Another job holds the backend on this host; the job stays queued and is sent again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Outcome:
    """What ``run`` did, for the task (which schedules a retry or a resend)."""

    state: str
    retry_in: float | None = None
    attempt: int = 0
    detail: str = ""


@dataclass
class JobContext:
    """What a handler gets: the claimed job, its backend row and plugin, and the means to
    report progress, log lines and notice a cancel request."""

    job: Job
    backend: Backend | None
    policy: Policy
    plugin: SwapBackend | None = None
    _last_progress: float = 0.0
    _last_cancel_check: float = 0.0
    _cancelled: bool = False
    #: The part of the bar this handler's 0-100 % fills: a provision that goes on to
    #: activate (handlers.provision) reports each half within its own span.
    span: tuple[float, float] = (0.0, 100.0)
    #: Set by a handler that deleted the backend row (destroy), so nothing is written to it.
    backend_deleted: bool = False
    #: Log lines (timestamped) waiting for the next write to the job's row (``note``).
    _notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    # ---- progress and log ----

    def progress(self, percent: float, message: str = "", *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < THROTTLE_SECONDS:
            return
        self._last_progress = now
        fields = self._progress_fields(percent, message)
        best_effort(lambda: Job.objects.filter(pk=self.job.pk).update(**fields), "progress")

    def _progress_fields(self, percent: float, message: str) -> dict[str, Any]:
        low, high = self.span
        pct = max(0, min(100, int(low + (high - low) * percent / 100)))
        fields: dict[str, Any] = {"progress": pct, "heartbeat_at": Now()}
        if message:
            fields["progress_message"] = message[:255]
        return fields

    def _log_line(self, message: str) -> Concat:
        log.info("job %s: %s", self.job.uuid, message)
        lines = "".join(self._notes) + f"{timezone.now():%H:%M:%S} {message}\n"
        self._notes.clear()
        return Concat(F("log"), Value(lines))

    def note(self, message: str) -> None:
        """A log line that goes to the row with the job's next log line or step, in the same
        write: for a step that follows another of the same job within moments, whose own
        write (its progress, its cancel check) would tell the user nothing more."""
        log.info("job %s: %s", self.job.uuid, message)
        self._notes.append(f"{timezone.now():%H:%M:%S} {message}\n")

    def log(self, message: str) -> None:
        line = self._log_line(message)
        best_effort(lambda: Job.objects.filter(pk=self.job.pk).update(log=line), "a log line")

    def step(self, percent: float, message: str) -> None:
        """A named step: logs and reports it, and checks for a cancel request, in one write
        that only a running job's row not asked to cancel takes (a job is a handful of
        steps, and each round trip is one its user waits for). No row taken: cancelled, as
        ``check_cancel`` would say; the database away: going on, as it would too."""
        if self._cancelled:
            raise Cancelled()
        self._last_progress = self._last_cancel_check = time.monotonic()
        fields = {"log": self._log_line(message), **self._progress_fields(percent, message)}
        running = Job.objects.filter(
            pk=self.job.pk, state=Job.State.RUNNING, cancel_requested=False
        )
        if best_effort(lambda: running.update(**fields), "a step") == 0:
            self._cancelled = True
            raise Cancelled()

    # ---- cancel ----

    def cancelled(self) -> bool:
        """True once the user asked to cancel, or once the job's row no longer says it runs
        (the sweep failed it: its backend is already free for the next job, so going on
        would act behind everyone's back); pageio's ``cancel`` callback."""
        if self._cancelled:
            return True
        now = time.monotonic()
        if now - self._last_cancel_check >= THROTTLE_SECONDS:
            self._last_cancel_check = now
            stop = Q(cancel_requested=True) | ~Q(state=Job.State.RUNNING)
            asked = best_effort(
                lambda: Job.objects.filter(stop, pk=self.job.pk).exists(),
                "a cancel check",
            )
            self._cancelled = bool(asked)
        return self._cancelled

    def check_cancel(self) -> None:
        self._last_cancel_check = 0.0
        if self.cancelled():
            raise Cancelled()

    def stop_if_cancelled(self) -> None:
        """``check_cancel`` at the pace of ``cancelled`` (one query per THROTTLE_SECONDS at
        most): for loops that wait."""
        if self.cancelled():
            raise Cancelled()

    def progress_cb(self, low: float, high: float, message: str) -> Callable[[int, int], None]:
        """A ``progress(done, total)`` callback for pageio mapping onto low..high percent."""

        def report(done: int, total: int) -> None:
            frac = done / total if total else 1.0
            self.progress(low + (high - low) * frac, f"{message}: {done}/{total}")

        return report

    # ---- the backend ----

    def save_backend(self, **fields: Any) -> None:
        """Write fields to the backend row (and the in-memory copy), keeping plugin state."""
        if self.backend is None or self.backend_deleted:
            return
        if self.plugin is not None:
            # A copy of its own, nested records too: the comparison below must never be
            # with a dict the plugin has changed since.
            fields.setdefault("state", copy.deepcopy(self.plugin.state))
        if fields.keys() == {"state"} and fields["state"] == self.backend.state:
            # The row holds this state already as this job last wrote it: a write would
            # change nothing the job knows of. (A discover beside it may rewrite an adopted
            # zram backend's state; this job's older copy is then better not written.)
            return
        for k, v in fields.items():
            setattr(self.backend, k, v)
        pk = self.backend.pk
        self.record(
            lambda: Backend.objects.filter(pk=pk).update(**fields, updated_at=timezone.now()),
            "the backend's fields",
        )

    def record(self, write: Callable[[], Any], what: str) -> None:
        """A write the job's outcome depends on: retried while the database is away (up to
        SWAPADMIN_DB_OUTAGE_SECONDS), then kept, in order with the job's other kept writes,
        by this process's heartbeat thread until the database takes it (core/liveness.py).
        The job goes on: what it did on the host is done, and will be recorded."""
        if REGISTRY.has_pending(self.job.pk):
            REGISTRY.defer(self.job.pk, write, what)
            return
        try:
            persistent(write, what)
        except DB_ERRORS:
            REGISTRY.defer(self.job.pk, write, what)

    def require_plugin(self) -> SwapBackend:
        if self.plugin is None:
            raise BackendError("this job needs a backend, and it has none")
        return self.plugin


Handler = Callable[[JobContext], dict[str, Any] | None]


def build_plugin(
    backend: Backend, policy: Policy, *, provisioning: bool = False, force: bool = False
) -> SwapBackend:
    """The plugin for ``backend``, built from the row with the host's policy. The
    constructor validates the parameters again: a tampered row is refused here. Only a
    provision may take a store that is not yet the backend's, and only a provision's force
    overwrites what a store holds; every other job writes to a store proven ours or not at
    all. The owner is the backend's public id, which a file's mark carries."""
    cls = registry().get(backend.kind)
    if backend.adopted:
        # An adopted file outside the swap roots is walked to from its own directory.
        from backends import adoption

        policy = adoption.policy_for(policy, backend.params, backend.state)
    return cls(
        backend.params,
        size_bytes=backend.size_bytes,
        policy=policy,
        force=force and provisioning,
        state=backend.state,
        provisioning=provisioning,
        owner=str(backend.uuid),
    )


def attach_plugin(ctx: JobContext, *, provisioning: bool, force: bool) -> SwapBackend:
    """Build the job's plugin from its backend row as it stands, its store claims and state
    going to the rows (``claim_store``, ``save_state``); the caller closed any earlier one."""
    backend = ctx.backend
    assert backend is not None
    plugin = build_plugin(backend, ctx.policy, provisioning=provisioning, force=force)
    plugin.on_store = lambda store: claim_store(backend, store)
    plugin.on_state = lambda state: save_state(ctx, backend, state)
    ctx.plugin = plugin
    return plugin


def save_state(ctx: JobContext, backend: Backend, state: dict[str, Any]) -> None:
    """The plugin made something only its state can find again (a zram device, a loop
    device): saved now (or kept through a database outage), so no crash leaks it."""
    state = copy.deepcopy(state)
    backend.state = state
    ctx.record(
        lambda: Backend.objects.filter(pk=backend.pk).update(state=state),
        "what the job made on the host",
    )


def claim_store(backend: Backend, store: Store) -> None:
    """One store, one backend: refuse (NotOursError) when another backend of this host
    already names the same bytes or bytes that overlap them (a partition and its disk, a
    loop device and its backing file), and record the key on this backend. Called by the
    plugin with each store it opens for writing, after its proof and before any byte."""

    def clash(other: Backend) -> bool:
        rec = other.state.get("store") if isinstance(other.state, dict) else None
        theirs = set((rec or {}).get("overlaps") or [])
        return bool(
            other.store_key
            and (
                other.store_key == store.key
                or other.store_key in store.overlaps
                or store.key in theirs
            )
        )

    def write() -> None:
        with transaction.atomic():
            # The machine's host rows locked (in one order) make the check and the write one
            # step: every name a machine is known by shares its disks.
            host = Host.objects.get(pk=backend.host_id)
            hosts = (
                Host.objects.filter(machine_id=host.machine_id)
                if host.machine_id
                else Host.objects.filter(pk=host.pk)
            )
            locked = list(hosts.select_for_update().order_by("pk").values_list("pk", flat=True))
            others = Backend.objects.filter(host_id__in=locked).exclude(pk=backend.pk)
            for other in others.only("name", "store_key", "state"):
                if clash(other):
                    where = "this host" if other.host_id == backend.host_id else "this machine"
                    raise NotOursError(
                        f"{store.path} is the store of backend {other.name!r} on {where} "
                        "already (the same bytes by another name, or bytes that overlap "
                        "them): one store serves one backend. Nothing was written."
                    )
            Backend.objects.filter(pk=backend.pk).update(store_key=store.key)

    try:
        persistent(write, "recording the backend's store")
    except IntegrityError:
        raise NotOursError(
            f"{store.path} is the store of another backend on this host already: one store "
            "serves one backend. Nothing was written."
        ) from None
    except DB_ERRORS as e:
        # Without the database no one can say the store is not another backend's.
        raise BackendError(
            f"the database is unreachable ({type(e).__name__}), so {store.path} cannot be "
            "checked against the other backends; nothing was written",
            retryable=True,
        ) from e
    backend.store_key = store.key


# ---- machines ----


def machine_id() -> str:
    """This machine's ``/etc/machine-id``: what a host is, whatever it is called."""
    try:
        return Path(settings.SWAPADMIN_MACHINE_ID_FILE).read_text().strip()
    except OSError:
        return ""


def check_machine(host: Host) -> None:
    """Refuse (HostIdentityError) to act as ``host`` on another machine than the one that
    registered it: a cloned VM, or two machines sharing a hostname."""
    mine = machine_id()
    if host.machine_id and host.machine_id != mine:
        raise HostIdentityError(
            f"host {host.name} was registered by the machine with id {host.machine_id}, but "
            f"this machine's id ({settings.SWAPADMIN_MACHINE_ID_FILE}) is "
            f"{mine or 'missing or empty'}: a cloned VM or another machine "
            f"with the same name. Give this worker another SWAPADMIN_HOST, or, if this "
            f"machine replaces the old one, let an admin run: manage.py forget-machine "
            f"{host.name}"
        )


class HostIdentityError(Exception):
    """This worker is not on the machine that its host row belongs to."""


# ---- locking ----


def open_lock(name: str) -> int:
    """The lock file ``name`` under DATA_DIR/locks, opened by this (root) worker. Under
    `make run` that directory belongs to the unprivileged account web and beat run as: a
    link planted there must not make root create or open a file elsewhere, so neither the
    directory nor the file is followed if it is a symbolic link."""
    d = Path(settings.DATA_DIR) / "locks"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        return os.open(f"{name}.lock", flags, 0o600, dir_fd=dfd)
    finally:
        os.close(dfd)


@contextmanager
def exclusive(name: str) -> Iterator[None]:
    """A host-local lock held by this process (flock: released if the process dies)."""
    fd = open_lock(name)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"another job holds the lock {name} on this host") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def exclusive_wait(
    name: str,
    *,
    why: str,
    timeout: float,
    on_wait: Callable[[], None] | None = None,
    check: Callable[[], None] | None = None,
) -> Iterator[None]:
    """A host-local lock like ``exclusive``, but waited for (up to ``timeout`` seconds,
    calling ``on_wait`` once when it has to wait): for what must happen one at a time on a
    host but may happen soon, such as swapoffs that each need RAM. ``check`` is called
    while waiting and once the lock is taken: it raises to give up (a cancel asked
    meanwhile), so a wait never ends in an action nobody wants any more."""
    fd = open_lock(name)
    try:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BackendError(
                        f"waited {timeout:.0f} s for {why}; try again later", retryable=True
                    ) from None
                if not waited and on_wait is not None:
                    on_wait()
                waited = True
                if check is not None:
                    check()
                time.sleep(0.2)
        try:
            if check is not None:
                check()
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


#: Every swapoff and burn-in on a host takes this lock: each one's RAM check is only true
#: while no other one is pulling pages back into RAM or pushing them out.
HOST_MEMORY_LOCK = "host-memory"
HOST_MEMORY_WAIT_SECONDS = 600.0


def lock_name(job: Job) -> str:
    if job.kind == Job.Kind.CHECK:
        # Checks only read, and skip an area another job is changing (health.checks): they
        # neither wait for nor hold up the backend's other jobs.
        return f"check-{job.backend_id or job.host_id}"
    if job.backend_id is not None:
        return f"backend-{job.backend_id}"
    return f"host-{job.host_id}-{job.kind}"


# ---- claim ----


def claim(job: Job, worker: str) -> bool:
    """queued -> running, only if no other job of the same backend is running. The row
    count says whether this worker won; a duplicate message finds the job taken. The
    times are the database's, and the boot id says which boot of the host runs it."""
    now = Now()
    qs = Job.objects.filter(pk=job.pk, state=Job.State.QUEUED, cancel_requested=False)
    if job.backend_id is not None and job.kind != Job.Kind.CHECK:
        other = (
            Job.objects.filter(backend_id=job.backend_id, state=Job.State.RUNNING)
            .exclude(kind=Job.Kind.CHECK)
            .exclude(pk=OuterRef("pk"))
        )
        qs = qs.filter(~Exists(other))
    return bool(
        qs.update(
            state=Job.State.RUNNING,
            worker=worker[:255],
            worker_pid=os.getpid(),
            boot_id=boot_id(),
            started_at=now,
            heartbeat_at=now,
            waiting_reason="",
            progress=0,
            progress_message="started",
        )
    )


# ---- running ----


def run(job_pk: int, *, worker: str) -> Outcome:
    """Run job ``job_pk`` on this host, if it is still queued and is this host's. How many
    attempts were made is the row's to say (``Job.attempt``), never a message's."""
    job = Job.objects.select_related("host").filter(pk=job_pk).first()
    if job is None:
        return Outcome("gone")
    if job.host.name != settings.SWAPADMIN_HOST:
        log.error(
            "job %s is for host %s, but this worker is %s: refused",
            job.uuid,
            job.host.name,
            settings.SWAPADMIN_HOST,
        )
        return Outcome("wrong-host", detail=job.host.name)
    try:
        check_machine(job.host)
    except HostIdentityError as e:
        log.error("job %s refused: %s", job.uuid, e)
        return Outcome("wrong-machine", detail=str(e))
    if job.state != Job.State.QUEUED:
        return Outcome(job.state)
    if job.cancel_requested:
        Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
            state=Job.State.CANCELLED, finished_at=timezone.now()
        )
        return Outcome(Job.State.CANCELLED)
    try:
        with exclusive(lock_name(job)):
            if not claim(job, worker):
                job.refresh_from_db()
                if job.state == Job.State.QUEUED:
                    holder = (
                        Job.objects.filter(backend_id=job.backend_id, state=Job.State.RUNNING)
                        .exclude(kind=Job.Kind.CHECK)
                        .exclude(pk=job.pk)
                        .first()
                    )
                    raise Busy(f"waiting for {holder.kind} job {holder.uuid}" if holder else "")
                return Outcome(job.state)
            REGISTRY.add(job.pk)
            try:
                # The rows the job runs on, as the claim left them, in one round trip: the
                # job, its host and its backend (with the backend's host, which its signed
                # specification names).
                # The database's clock is read in the same query, for the signature's age:
                # not the row's started_at, which another machine could have rewritten.
                job = (
                    Job.objects.select_related("host", "backend__host")
                    .annotate(db_now=Now())
                    .get(pk=job.pk)
                )
                return _run_claimed(job, job.attempt)
            finally:
                REGISTRY.remove(job.pk)
    except Busy as e:
        Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
            waiting_reason=(e.reason or "the backend is busy")[:255]
        )
        return Outcome("busy", retry_in=BUSY_DELAY_SECONDS, attempt=job.attempt)


def _run_claimed(job: Job, attempt: int) -> Outcome:
    ctx = JobContext(job=job, backend=None, policy=Policy.from_env())
    try:
        outcome, fields = _run_handler(ctx, attempt)
    finally:
        # Observed state first, finished state second: whoever sees the job done sees the
        # backend as the job left it.
        _refresh(ctx)
        if ctx.plugin is not None:
            ctx.plugin.close()
    if outcome.state != Job.State.QUEUED:
        # Before the database hears of it: this host runs the job no more, whatever its row
        # says later (core/finished.py).
        finished.record(str(ctx.job.uuid), ctx.job.signed_spec)
    # Away for longer than the runner waits, the database gets the job's end later from
    # the heartbeat thread (ctx.record): the job is never left running.
    if outcome.state == Job.State.QUEUED:
        ctx.record(lambda: _requeue(ctx, fields["reason"], outcome.attempt), "requeueing the job")
    else:
        ctx.record(lambda: _finish(ctx, outcome.state, **fields), "the job's end")
    return outcome


def _run_handler(ctx: JobContext, attempt: int) -> tuple[Outcome, dict[str, Any]]:
    from .handlers import HANDLERS

    job = ctx.job
    try:
        handler = HANDLERS.get(job.kind)
        if handler is None:
            raise BackendError(f"this worker does not know how to run a {job.kind!r} job")
        if attempt:
            ctx.log(f"attempt {attempt + 1} of {MAX_RETRIES + 1}")
        if job.backend_id is not None:
            # Loaded with the job after the claim (``run``); a backend deleted before that
            # left the job none (SET_NULL), which its signature no longer matches.
            ctx.backend = job.backend
            if ctx.backend is None:  # only with foreign keys bypassed (raw SQL on SQLite)
                raise BackendError("the backend was deleted before the job started")
            if ctx.backend.reread_before_next_job:
                _reread(ctx.backend)
        # The rows this job runs on, as loaded now (the job's own reloaded by the claim),
        # once more against its signature, whatever the job: the gate in tasks.run_job ran
        # before the claim, on rows read a moment earlier.
        try:
            signing.verify_here(job, db_now=job.db_now)
        except signing.Unauthorised as e:
            raise NotOursError(e.message) from None
        if ctx.backend is not None:
            check_not_provisioned(job, ctx.backend)
            attach_plugin(
                ctx,
                provisioning=job.kind == Job.Kind.PROVISION,
                force=bool(job.params.get("force", False)),
            )
        result = handler(ctx) or {}
        if ctx.cancelled():
            raise Cancelled()
        return Outcome(Job.State.SUCCEEDED), {"result": result}
    except Cancelled:
        failed_meanwhile = best_effort(
            lambda: Job.objects.filter(pk=job.pk).exclude(state=Job.State.RUNNING).exists(),
            "the job's state",
        )
        ctx.log(
            "stopped here, nothing more done: the job was failed meanwhile"
            if failed_meanwhile
            else "cancelled at the user's request"
        )
        return Outcome(Job.State.CANCELLED), {"message": "cancelled"}
    except BackendError as e:
        if e.retryable and attempt < MAX_RETRIES:
            delay = RETRY_BASE_SECONDS * 2**attempt
            ctx.log(f"{e.message} (will try again in {delay:.0f} s)")
            reason = f"retrying in {delay:.0f} s after: {e.message}"
            return Outcome(Job.State.QUEUED, retry_in=delay, attempt=attempt + 1), {
                "reason": reason
            }
        ctx.log(f"failed: {e.message}")
        return Outcome(Job.State.FAILED, detail=e.message), {"error": e.message}
    except Exception as e:
        # The traceback goes to the worker's log; the row gets a sentence.
        log.exception("job %s (%s) crashed", job.uuid, job.kind)
        message = f"internal error in the worker: {type(e).__name__}: {e}"
        ctx.log(f"failed: {message} (the traceback is in the worker's log)")
        return Outcome(Job.State.FAILED, detail=message), {"error": message}


#: What a backend whose store was never proven ours may still do.
UNPROVISIONED_JOBS = frozenset({Job.Kind.PROVISION, Job.Kind.DESTROY, Job.Kind.CHECK})


def check_not_provisioned(job: Job, backend: Backend) -> None:
    """The request side refuses these already; the worker says it again (the plugin's own
    proof would refuse the write too: this names the reason first)."""
    if backend.provisioned_at is None and job.kind not in UNPROVISIONED_JOBS:
        raise NotOursError(
            f"{backend.name} was never provisioned (its store was never proven to be "
            f"swapadmin's), so a {job.kind} job is refused; provision it again, or destroy it"
        )


def _reread(backend: Backend) -> None:
    """A job on this backend ended without its worker's word: what the row says of the
    kernel may be what that job left half done. Read it again before going on."""
    observe_backend(backend)
    Backend.objects.filter(pk=backend.pk).update(reread_before_next_job=False)
    backend.refresh_from_db()


def _refresh(ctx: JobContext) -> None:
    if ctx.backend is None or ctx.backend_deleted:
        return
    backend, plugin = ctx.backend, ctx.plugin
    # A check runs beside the backend's other jobs and only reads: the state it read when
    # it started may be older than theirs, and must never overwrite it.
    keep_state = plugin is not None and ctx.job.kind != Job.Kind.CHECK

    def write() -> None:
        # The store is read first, outside the transaction: a slow read must not hold the
        # database's write lock (SQLite's is the whole database's) or the row's.
        fields = read_observation(backend, plugin)
        with transaction.atomic():
            if keep_state and plugin is not None:
                Backend.objects.filter(pk=backend.pk).update(state=dict(plugin.state))
            write_observation(backend, fields)

    try:
        # The plugin's state names the loop or zram device the job attached: losing it to
        # a database restart would orphan the device, so this write is kept too.
        ctx.record(write, "the backend's state")
    except Exception:
        log.exception("could not refresh the observed state of backend %s", ctx.backend.pk)


def _finish(
    ctx: JobContext,
    state: str,
    *,
    result: dict[str, Any] | None = None,
    error: str = "",
    message: str = "",
) -> None:
    fields: dict[str, Any] = {"state": state, "finished_at": Now(), "error": error}
    if result is not None:
        fields["result"] = result
    if state == Job.State.SUCCEEDED:
        fields.update(progress=100, progress_message=message or "done")
    else:
        fields["progress_message"] = (message or error or state)[:255]
    Job.objects.filter(pk=ctx.job.pk, state=Job.State.RUNNING).update(**fields)


def _requeue(ctx: JobContext, reason: str, attempt: int) -> None:
    Job.objects.filter(pk=ctx.job.pk, state=Job.State.RUNNING).update(
        state=Job.State.QUEUED,
        attempt=attempt,
        waiting_reason=reason[:255],
        progress_message="waiting to retry",
        worker="",
        worker_pid=None,
        boot_id="",
    )
