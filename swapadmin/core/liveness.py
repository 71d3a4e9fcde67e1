"""Which jobs a worker process is running, said by that process itself.

A running job is alive while the process running it says so: a thread in each worker
process writes ``heartbeat_at = Now()`` for every job in its registry every
``SWAPADMIN_JOB_HEARTBEAT_SECONDS``, with the database's clock (never the host's, which may
be a minute off). A pid is not such a statement: after a crash or a reboot the same pid can
belong to anything. So a job whose heartbeat is older than ``SWAPADMIN_JOB_STALE_SECONDS``
(database clock again) is failed by the sweep, and one claimed during another boot of its
host is failed by the host's next worker at once (``settle_orphans``).

A job's last writes (its end) may meet a database that is away for longer than the runner
retries them. They are then handed to this registry, which keeps the job's heartbeat and
tries them again every tick until the database takes them: the job ends with its real
outcome, never stuck as running, and is failed by the sweep only if this process dies too.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.models.functions import Now

from .models import Job

log = logging.getLogger(__name__)


#: What says the database cannot be reached now (a write to try again later), as opposed to
#: a write the database refuses (given up, logged): Django's InterfaceError is no
#: DatabaseError, and a closed connection raises it.
UNREACHABLE = (OperationalError, InterfaceError)


class Registry:
    """The jobs this process runs; one per process (a prefork child makes its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: set[int] = set()
        self._pending: dict[int, list[tuple[Callable[[], Any], str]]] = {}
        self._pid = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- what the runner says ----

    def add(self, job_pk: int) -> None:
        with self._lock:
            self._ensure_thread()
            self._jobs.add(job_pk)

    def remove(self, job_pk: int) -> None:
        with self._lock:
            if job_pk not in self._pending:
                self._jobs.discard(job_pk)

    def defer(self, job_pk: int, write: Callable[[], Any], what: str) -> None:
        """``write`` could not reach the database: keep the job's heartbeat and try it again
        every tick until it succeeds, after the job's writes kept before it."""
        with self._lock:
            self._ensure_thread()
            self._jobs.add(job_pk)
            self._pending.setdefault(job_pk, []).append((write, what))
        log.warning("job %s: %s is kept until the database takes it", job_pk, what)

    def has_pending(self, job_pk: int) -> bool:
        """Writes of the job wait for the database: later ones must queue behind them."""
        with self._lock:
            return bool(self._pending.get(job_pk))

    def running(self) -> set[int]:
        with self._lock:
            return set(self._jobs)

    # ---- the thread ----

    def _ensure_thread(self) -> None:
        # Threads do not survive fork: a prefork child starts its own on its first job.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._jobs.clear()
            self._pending.clear()
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._run, name="swapadmin-job-heartbeat", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread after its current tick, its database connection closed (a process
        that goes on without jobs, such as a test's)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._pid = 0

    def _run(self) -> None:
        try:
            self._beat_until_stopped()
        finally:
            connection.close()

    def _beat_until_stopped(self) -> None:
        period = settings.SWAPADMIN_JOB_HEARTBEAT_SECONDS
        while not self._stopping.is_set():
            try:
                self.beat()
                delay = period
            except UNREACHABLE as e:
                # The database is away: say so once a tick, try again soon (the sooner the
                # heartbeat is back, the less a sweep can mistake a live job for a dead one).
                log.warning("job heartbeat: database unreachable (%s)", e)
                connection.close()
                delay = min(period, 1.0)
            except Exception:
                # Nothing may end this thread: without it every job of this process would
                # look dead to the sweep. Say what happened and beat again next tick.
                log.exception("job heartbeat: unexpected error; trying again")
                connection.close()
                delay = min(period, 1.0)
            self._wake.wait(delay)
            self._wake.clear()

    def beat(self) -> None:
        """One tick: the heartbeat of every job here, then the writes waiting for the database."""
        jobs = self.running()
        if jobs:
            Job.objects.filter(pk__in=jobs, state=Job.State.RUNNING).update(heartbeat_at=Now())
        with self._lock:
            pks = list(self._pending)
        for pk in pks:
            while True:
                with self._lock:
                    queue = self._pending.get(pk)
                    if not queue:
                        self._pending.pop(pk, None)
                        self._jobs.discard(pk)
                        break
                    write, what = queue[0]
                try:
                    write()
                except UNREACHABLE:
                    raise
                except Exception:
                    log.exception("job %s: %s could not be written; given up", pk, what)
                else:
                    log.warning("job %s: %s written now that the database is back", pk, what)
                with self._lock:
                    queue.pop(0)


#: This process's registry.
REGISTRY = Registry()
