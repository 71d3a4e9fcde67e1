"""What a job's handler works with (``JobContext``), what a run ends in (``Outcome``), and how
the job's writes meet a database that may be away (``best_effort``, ``persistent``).

Its own module so that the handlers, the runner and the plugins' glue import it, and not one
another: it imports no other module of the job's life (runner, handlers, sampler, worker).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Now
from django.utils import timezone

from backends import BackendError, Policy, SwapBackend
from backends.errors import printable

from .liveness import REGISTRY
from .models import Backend, Job

log = logging.getLogger(__name__)

#: How often progress and the cancel flag go to and come from the database, at most.
THROTTLE_SECONDS = 0.5
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


#: A retryable error is tried again this many times, after 5, 10, 20 seconds (the runner).
MAX_RETRIES = 3


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
    #: Set by a handler past the point where a cancel can be honoured (a resize once the
    #: store has its new size): what it did, said to a cancel asked from then on (and to
    #: the sweep's failure) in the runner's closing words. Every job that returns ends as
    #: what it did, not as cancelled (reviews 213/1, 214/2); this only names it.
    past_cancel: str = ""
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
        # Only a running job's row: a job the sweep failed keeps the sweep's words (213/4).
        running = Job.objects.filter(pk=self.job.pk, state=Job.State.RUNNING)
        best_effort(lambda: running.update(**fields), "progress")

    def _progress_fields(self, percent: float, message: str) -> dict[str, Any]:
        low, high = self.span
        pct = max(0, min(100, int(low + (high - low) * percent / 100)))
        fields: dict[str, Any] = {"progress": pct, "heartbeat_at": Now()}
        if message:
            fields["progress_message"] = printable(message)[:255]
        return fields

    def log_line(self, message: str) -> Concat:
        """The log column with ``message`` (and the notes before it) appended, for a write
        that carries the line with other fields."""
        # A line may name a path whose name is not UTF-8: the log column must hold it.
        message = printable(message)
        log.info("job %s: %s", self.job.uuid, message)
        lines = "".join(self._notes) + f"{timezone.now():%H:%M:%S} {message}\n"
        self._notes.clear()
        return Concat(F("log"), Value(lines))

    def note(self, message: str) -> None:
        """A log line that goes to the row with the job's next log line or step, in the same
        write: for a step that follows another of the same job within moments, whose own
        write (its progress, its cancel check) would tell the user nothing more."""
        message = printable(message)
        log.info("job %s: %s", self.job.uuid, message)
        self._notes.append(f"{timezone.now():%H:%M:%S} {message}\n")

    def log(self, message: str) -> None:
        line = self.log_line(message)
        best_effort(lambda: Job.objects.filter(pk=self.job.pk).update(log=line), "a log line")

    def step(self, percent: float, message: str) -> None:
        """A named step: logs and reports it, and checks for a cancel request, in one write
        that only a running job's row not asked to cancel takes (a job is a handful of
        steps, and each round trip is one its user waits for). No row taken: cancelled, as
        ``check_cancel`` would say; the database away: going on, as it would too."""
        if self._cancelled:
            raise Cancelled()
        self._last_progress = self._last_cancel_check = time.monotonic()
        fields = {"log": self.log_line(message), **self._progress_fields(percent, message)}
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

    def cancelled_now(self) -> bool:
        """``cancelled``, asked of the row now whatever the pace: at a point whose answer
        decides what the job did, not in a loop."""
        self._last_cancel_check = 0.0
        return self.cancelled()

    def check_cancel(self) -> None:
        if self.cancelled_now():
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
