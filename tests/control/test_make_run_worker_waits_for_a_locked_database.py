"""A worker that starts while the database will not let it write waits and tries again, and
says why, until its host is registered: it neither gives up nor serves without its host.

Under `make run`, the test holds SQLite's write lock itself (another program writing, a
backup, a long migration), then kills the worker; runall starts a new one, whose
registration waits out SQLite's busy timeout and logs the reason once. When the test lets
go, the worker registers the host and it is online again. Before, the worker logged "could
not register host" once and the host never came back.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.fixtures.host import needs_root

from .make_run import make_run

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.timeout(600)]


def test_the_worker_registers_once_the_database_lets_it(scratch: Path) -> None:
    with make_run(scratch / "run") as run, run.api(run.token()) as api:
        host = run.wait(
            lambda: (h := run.host_row(api)) and h["online"] and h, 90, "the host online"
        )
        worker = run.child("worker")
        assert worker, run.tail()

        holder = sqlite3.connect(run.data_dir / "swapadmin.sqlite3", isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # the write lock, as another writer holds it
            os.kill(worker, signal.SIGKILL)
            run.wait(
                lambda: f"cannot register host {run.host} yet" in run.output(),
                120, "the new worker to say why it waits",
            )  # fmt: skip
            assert "database is locked" in run.output().split("cannot register host", 1)[1]
        finally:
            holder.rollback()
            holder.close()

        run.wait(
            lambda: f"registered host {run.host} after waiting" in run.output(),
            120, "the new worker to register the host",
        )  # fmt: skip
        back = run.wait(
            lambda: (h := run.host_row(api)) and h["online"]
            and h["last_heartbeat"] > host["last_heartbeat"] and h,
            60, "the host online again",
        )  # fmt: skip
        assert back["id"] == host["id"]
        output = run.output()
    # Once per reason, not once per try.
    assert output.count(f"cannot register host {run.host} yet") == 1, run.tail()
    assert "could not start the agent" not in output, run.tail()
