"""Stopping a worker at a known point of a job, with the database's own locks.

A worker writes to its backend's row between the kernel steps of a job (``claim_store``
records the store it opened before the first byte is written to it, ``save_backend`` after
``swapfile(True)`` in provision, after ``resize`` in resize), and to its job's row when it
logs a step. A second connection holding ``SELECT ... FOR UPDATE`` on such a row makes the
worker wait right there, with the earlier step done on the host and the next not begun, so
a SIGKILL lands in the middle of the job every time instead of whenever a sleep happened to
end. ``blocked_on`` tells when the worker is waiting, and on which statement: PostgreSQL
knows who waits for whom (``pg_blocking_pids``).

The lock must be taken before the job's message reaches the worker:
``queue_with_row_locked`` registers it as an ``on_commit`` callback ahead of the dispatch
that services register in the same transaction, and Django runs the callbacks in order.

``JobGate`` stops a job at every write to its row (its claim, log lines, progress reports,
its end) from before its dispatch, and lets those writes through one at a time: a test walks
the job from one report to the next and looks at what it reported at each, at the test's
pace rather than the disk's. A row lock cannot do that stepping: a writer that was waiting
for it makes a new version of the row, so the next holder's ``FOR UPDATE`` has to find that
version and can lose its turn to the writer's next statement. The gate holds the jobs
table's SHARE lock instead, which every UPDATE of it waits for, and which PostgreSQL grants
strictly in the order asked: the next holder asks behind the waiting writes, before the
current one lets go, and whatever the worker writes next waits behind it.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import connection, connections, transaction
from django.db.models.signals import post_save

from swapadmin.core.context import THROTTLE_SECONDS
from swapadmin.core.models import Job
from tests.fixtures.workers import activity, blocked, test_database_url, wait_until


class RowLock:
    """A held lock on one row (a backend's or a job's), from a connection of its own."""

    def __init__(self) -> None:
        self.conn: psycopg.Connection[Any] | None = None

    def take(self, backend_name: str, host_name: str) -> None:
        self.conn = psycopg.connect(test_database_url(), autocommit=False)
        row = self.conn.execute(
            "SELECT b.id FROM core_backend b JOIN core_host h ON h.id = b.host_id "
            "WHERE b.name = %s AND h.name = %s FOR UPDATE OF b",
            (backend_name, host_name),
        ).fetchone()
        assert row is not None, f"no backend {backend_name} on {host_name} to lock"

    def take_job(self, job_pk: int) -> None:
        """Lock the row of job ``job_pk``: the worker running it waits at its next log line
        or progress report."""
        self.conn = psycopg.connect(test_database_url(), autocommit=False)
        row = self.conn.execute(
            "SELECT id FROM core_job WHERE id = %s FOR UPDATE", (job_pk,)
        ).fetchone()
        assert row is not None, f"no job {job_pk} to lock"

    @property
    def pid(self) -> int:
        assert self.conn is not None, "the lock is not held"
        return self.conn.info.backend_pid

    def release(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.rollback()
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None


#: The sessions waiting for the locks session %s holds, directly or in the queue behind
#: another waiter (PostgreSQL names that waiter, not the holder, as what blocks them).
WAITERS = (
    "WITH RECURSIVE waiter(pid) AS ("
    " SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))"
    " UNION SELECT a.pid FROM pg_stat_activity a"
    " JOIN waiter w ON w.pid = ANY(pg_blocking_pids(a.pid)))"
    " SELECT {columns} FROM pg_stat_activity a JOIN waiter USING (pid)"
)


def blocked_on(lock: RowLock, statement: str) -> bool:
    """True when another session (the worker) is waiting for the row ``lock`` holds, in a
    statement that starts with ``statement`` (such as ``UPDATE "core_backend" SET
    "store_key"``): the worker has reached that write and goes no further. Waiting behind
    another waiter for the same row counts too (PostgreSQL then names that waiter, not the
    holder, as what blocks it)."""
    rows = activity(WAITERS.format(columns="a.query"), (lock.pid,))
    return any(query.lstrip().startswith(statement) for (query,) in rows)


def waiting_on(lock: RowLock) -> list[str]:
    """What every session waiting (directly) for ``lock`` is running: for a failure's
    message."""
    return waiting_for(lock.pid)


def waiting_for(pid: int) -> list[str]:
    """What every session waiting (directly) for the locks session ``pid`` holds is
    running (read as it is now, by ``workers.activity``)."""
    query = "SELECT left(query, 160) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))"
    return [query for (query,) in activity(query, (pid,))]


def waits_beside_a_hold(
    pid: int,
    release: Callable[[], None],
    call: Callable[[], Any],
    what: str,
    meanwhile: Callable[[], Any] | None = None,
) -> list[str]:
    """Run ``call`` in a thread of its own (and its own connection) while session ``pid``
    holds a lock the caller took: what waited on that hold, [] when ``call`` ended without
    waiting. PostgreSQL says which happened (``pg_blocking_pids``), so no time decides it.
    While ``call`` waits, ``meanwhile`` runs (the holder's next step). ``release`` lets go
    of the hold in any case, so a call that waits still ends; an error out of ``call``
    fails the test."""
    done = threading.Event()
    failed: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as e:  # noqa: BLE001  (told to the test below)
            failed.append(e)
        finally:
            connections.close_all()
            done.set()

    # A daemon: one stuck on something else than the hold fails the test, not the run's exit.
    thread = threading.Thread(target=run, name=what, daemon=True)
    try:
        thread.start()
        wait_until(lambda: done.is_set() or waiting_for(pid), 30, f"the {what} to end or wait")
        waited = [] if done.is_set() else waiting_for(pid)
        if waited and meanwhile is not None:
            meanwhile()
    finally:
        release()
        if thread.is_alive():
            thread.join(30)
    assert not thread.is_alive(), f"the {what} did not end once the hold was let go"
    assert not failed, failed
    return waited


def queue_with_row_locked(lock: RowLock, backend_name: str, host_name: str, queue: Any) -> Any:
    """Call ``queue()`` (which queues a job) in a transaction whose commit takes ``lock`` on
    the backend's row before the job is dispatched; returns what ``queue()`` returned.
    The caller releases the lock (in a ``finally``)."""
    with transaction.atomic():
        transaction.on_commit(lambda: lock.take(backend_name, host_name))
        return queue()


#: How a progress report (``JobContext.progress``) starts, in ``pg_stat_activity``.
PROGRESS = 'UPDATE "core_job" SET "progress"'
#: How a step (``JobContext.step``: a log line and its progress in one write) starts.
LOG = 'UPDATE "core_job" SET "log"'
#: The scan's step before its first page (``handlers.scan``).
SCAN_STEP = "scanning every page"


@dataclass(frozen=True)
class Waiter:
    """A session waiting to write to the jobs table: its pid, statement, and who it waits
    for."""

    pid: int
    query: str
    blockers: tuple[int, ...]


class _Holder:
    """A transaction in a thread of its own (Django's connections are per thread) holding the
    jobs table's SHARE lock, and running what the test asks inside it (``run``)."""

    def __init__(self) -> None:
        self.pid = 0
        self.error: BaseException | None = None
        self._commands: queue.Queue[Callable[[], Any] | None] = queue.Queue()
        self._started = threading.Event()
        self._held = threading.Event()
        self._thread = threading.Thread(target=self._hold, name="job-gate", daemon=True)
        self._thread.start()
        assert self._started.wait(30) and self.pid, f"the gate's connection: {self.error}"

    def _hold(self) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
                self._started.set()
                cursor.execute("LOCK TABLE core_job IN SHARE MODE")
                self._held.set()
                while (command := self._commands.get()) is not None:
                    command()
        except BaseException as e:  # a cancelled wait (give_up), or a lost connection
            self.error = e
        finally:
            self._started.set()
            connection.close()

    def held(self, timeout: float) -> bool:
        return self._held.wait(timeout)

    def run(self, fn: Callable[[], Any]) -> None:
        """``fn()`` inside the held transaction: what it writes is seen when the lock goes."""
        done = threading.Event()
        failed: list[BaseException] = []

        def command() -> None:
            try:
                with transaction.atomic():  # a savepoint: an error leaves the lock held
                    fn()
            except Exception as e:  # raised again in the caller's thread
                failed.append(e)
            finally:
                done.set()

        self._commands.put(command)
        assert done.wait(60), f"the gate's transaction is gone: {self.error}"
        if failed:
            raise failed[0]

    def release(self) -> None:
        if self._thread.is_alive():
            self._commands.put(None)
            self._thread.join(30)

    def give_up(self) -> None:
        """Stop waiting for the lock (the holder was queued but is not wanted), or let it go
        if it has it already."""
        if self._thread.is_alive() and not self._held.is_set():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_cancel_backend(%s)", [self.pid])
        self.release()


class JobGate:
    """The next job ``match`` accepts, stopped at every write to its row from its creation on
    (before its message is sent) until the test lets that write through. Writes to other
    jobs wait too: nothing else may run while the gate is closed. Use as a context manager;
    leaving it opens the gate for good."""

    def __init__(self, match: Callable[[Job], bool]) -> None:
        self.match = match
        self.job_pk: int | None = None
        #: When the write found by ``hold_at`` was found, by the monotonic clock.
        self.held_since = 0.0
        self._holder: _Holder | None = None
        self._closed = threading.Event()
        self._uid = f"job-gate-{id(self)}"
        #: What the gate saw and did, for a failure's message: a gate that lets a job run
        #: past it unseen must say how (it did once, in CI, and left nothing else to read).
        self.trace: list[str] = []

    def __enter__(self) -> JobGate:
        post_save.connect(self._created, sender=Job, weak=False, dispatch_uid=self._uid)
        return self

    def __exit__(self, *exc: object) -> None:
        post_save.disconnect(sender=Job, dispatch_uid=self._uid)
        self.open()

    def _created(self, sender: Any, instance: Job, created: bool, **kwargs: Any) -> None:
        # Called inside the transaction that creates the job (a request's, or the test's):
        # the gate closes on commit, before the dispatch services register after the row.
        if created and self.job_pk is None and self.match(instance):
            self.job_pk = instance.pk
            transaction.on_commit(self._close)

    def _note(self, what: str) -> None:
        self.trace.append(f"{time.monotonic():.3f} {what}")

    def _close(self) -> None:
        holder = _Holder()
        assert holder.held(30), f"the gate's lock: {holder.error}"
        self._note(f"closed: job {self.job_pk}, holder {holder.pid}")
        self._holder = holder
        self._closed.set()

    @property
    def job(self) -> Job:
        """The job's row as committed (what pages and the API show)."""
        assert self.job_pk is not None, "no job went through the gate"
        return Job.objects.get(pk=self.job_pk)

    def open(self) -> None:
        """Let everything through, now and later."""
        if self._holder is not None:
            self._holder.release()
            self._holder = None

    # ---- who waits ----

    def waiting(self) -> list[Waiter]:
        """The sessions waiting for the gate: for its lock, or in the queue behind another
        waiter."""
        if self._holder is None:
            return []
        columns = "a.pid, a.query, pg_blocking_pids(a.pid)"
        rows = activity(WAITERS.format(columns=columns), (self._holder.pid,))
        return [Waiter(pid, query.lstrip(), tuple(b)) for pid, query, b in rows]

    def _wait_for_a_waiter(self, timeout: float) -> list[Waiter]:
        def what() -> str:
            if self.job_pk is None:
                return "the gate's job to be created"
            job = self.job
            return (
                f"a write to {job.kind} job {job.uuid} ({job.state}, {job.progress}% "
                f"{job.progress_message!r}); its log:\n{job.log}\n{self._state()}"
            )

        if not self._closed.wait(timeout):
            raise AssertionError(f"timed out after {timeout} s waiting for {what()}")
        try:
            return wait_until(self.waiting, timeout, "a waiter")
        except AssertionError:
            raise AssertionError(f"timed out after {timeout} s waiting for {what()}") from None

    def _state(self) -> str:
        """The holder's thread and lock as they are now, and the gate's trace."""
        holder = self._holder
        if holder is None:
            now = "no holder (the gate is open)"
        else:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT mode, granted FROM pg_locks WHERE pid = %s AND relation = "
                    "'core_job'::regclass",
                    [holder.pid],
                )
                locks = cursor.fetchall()
            now = (
                f"holder {holder.pid}: thread alive {holder._thread.is_alive()}, error "
                f"{holder.error!r}, its locks on core_job {locks}"
            )
        return "the gate: " + now + "\n" + "\n".join(self.trace[-60:])

    # ---- stepping ----

    def let_through(
        self, *, at_least: float = 0.0, only: set[int] | None = None,
        committing: Callable[[], Any] | None = None,
    ) -> bool:  # fmt: skip
        """Let the writes waiting now go on, and stop whatever comes after them, once the
        write found by ``hold_at`` has waited ``at_least`` seconds. ``committing()`` runs in
        the gate's transaction: what it writes is seen from the moment the writers go on.
        With ``only`` (pids), let nothing through and return False if another session came
        to wait ahead meanwhile."""
        holder = self._holder
        assert holder is not None, "the gate is open"
        remaining = self.held_since + at_least - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)  # a hold of a known length, not a wait for an outcome
        if committing is not None:
            holder.run(committing)
        successor = _Holder()
        try:
            # Queued behind whoever waits now: it gets the lock right after them, and
            # whatever comes later waits behind it.
            wait_until(lambda: blocked(successor.pid), 30, "the gate's next lock to queue")
            if only is not None:
                ahead = {
                    w.pid for w in self.waiting()
                    if w.pid != successor.pid and successor.pid not in w.blockers
                }  # fmt: skip
                if not ahead <= only:
                    self._note(f"not let through: {sorted(ahead - only)} came to wait ahead")
                    successor.give_up()
                    return False
            holder.release()
            assert successor.held(30), f"the gate's next lock: {successor.error}"
        except BaseException:
            successor.give_up()
            raise
        self._note(f"let through: holder {holder.pid} -> {successor.pid}")
        self._holder = successor
        return True

    def hold_at(
        self, statement: str, until: Callable[[Job], bool] = lambda job: True,
        *, timeout: float = 60.0,
    ) -> Job:  # fmt: skip
        """Let the job's writes through one at a time until one starting with ``statement``
        waits while the committed row satisfies ``until``; return that row."""
        while True:
            waiting = self._wait_for_a_waiter(timeout)
            job = self.job
            found = any(w.query.startswith(statement) for w in waiting) and until(job)
            self._note(
                f"{'held' if found else 'seen'}: {job.state} {job.progress}% "
                f"{job.progress_message!r}, log ends {job.log[-40:]!r}; waiting "
                + "; ".join(f"{w.pid} {w.query[:48]!r} behind {list(w.blockers)}" for w in waiting)
            )
            if found:
                self.held_since = time.monotonic()
                return job
            self.let_through(only={w.pid for w in waiting})

    def run_out(self, *, each_at_least: float, timeout: float = 60.0) -> Job:
        """Let the job's writes through one at a time, each held ``each_at_least`` seconds,
        until its row says it ended; return that row."""
        while not (job := self.job).finished:
            self._wait_for_a_waiter(timeout)
            self.held_since = time.monotonic()
            self.let_through(at_least=each_at_least)
        return job


def in_another_thread(fn: Callable[[], Any]) -> threading.Thread:
    """Call ``fn()`` in a thread with a database connection of its own, closed at the end:
    a request queueing a gated job writes to its row when it dispatches it, and so waits at
    the gate while the test goes on to let it through. An error shows as pytest's unhandled
    thread exception warning, and the gate then never sees its job."""

    def run() -> None:
        try:
            fn()
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="job-gate-request", daemon=True)
    thread.start()
    return thread


def hold_scan_between_chunks(gate: JobGate) -> Job:
    """Stop the gate's scan at its first progress report from the page loop: a run of pages
    written, the report not yet in the row, which still says the step before (``SCAN_STEP``,
    2 %). The runner writes one report per ``THROTTLE_SECONDS`` at most, timed from the
    step's own: holding the step that long makes the first run report, whatever the disk's
    speed. The step is one write, its log line with its progress (``LOG``), and the job's
    first after the claim."""
    gate.hold_at(LOG, lambda job: job.state == Job.State.RUNNING and SCAN_STEP not in job.log)
    gate.let_through(at_least=THROTTLE_SECONDS)
    return gate.hold_at(PROGRESS, lambda job: job.progress_message == SCAN_STEP)


def a_scan_held_in_a_pool_child(gate: JobGate, worker: Any, actor: Any, name: str) -> Job:
    """Provision a 64 MiB file backend ``name`` on ``worker`` (a prefork pool), ask for a
    scan of it and hold that scan between two chunks of pages; return the held row, whose
    ``worker_pid`` is the pool child running it (never the worker's main process)."""
    from swapadmin.core import services
    from swapadmin.core.models import Backend
    from tests.fixtures.workers import wait_for_job

    job = services.create_backend(
        host=worker.host, kind="file", name=name, size_bytes=64 << 20, actor=actor,
        params={"path": str(worker.swap_root / name)},
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name=name, host=worker.host)
    in_another_thread(
        lambda: services.request_action(backend, Job.Kind.SCAN, actor, {"patterns": 4})
    )
    held = hold_scan_between_chunks(gate)
    assert held.worker_pid and held.worker_pid != worker.pid
    return held
