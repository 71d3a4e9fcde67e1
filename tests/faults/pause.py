"""Stopping a worker at a known point of a job, with the database's own row locks.

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
"""

from __future__ import annotations

import contextlib
from typing import Any

import psycopg
from django.db import connection, transaction

from tests.fixtures.workers import test_database_url


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


def blocked_on(lock: RowLock, statement: str) -> bool:
    """True when another session (the worker) is waiting for the row ``lock`` holds, in a
    statement that starts with ``statement`` (such as ``UPDATE "core_backend" SET
    "store_key"``): the worker has reached that write and goes no further."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT query FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
            [lock.pid],
        )
        return any(query.lstrip().startswith(statement) for (query,) in cursor.fetchall())


def queue_with_row_locked(lock: RowLock, backend_name: str, host_name: str, queue: Any) -> Any:
    """Call ``queue()`` (which queues a job) in a transaction whose commit takes ``lock`` on
    the backend's row before the job is dispatched; returns what ``queue()`` returned.
    The caller releases the lock (in a ``finally``)."""
    with transaction.atomic():
        transaction.on_commit(lambda: lock.take(backend_name, host_name))
        return queue()
