"""A test run drops its test database at its end even when a process a test started still
holds a session on it (a worker killed a moment before, whose server session has not yet
ended): DROP DATABASE refuses while anyone is connected, pytest-django only warns, and the
database stayed on the server for good; a few days of runs had left over a hundred."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parents[2]
INNER = Path(__file__).with_name("inner_run_leaves_a_session.py")


def database_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


@pytest.mark.django_db
def test_the_run_ends_the_session_and_drops_its_database(tmp_path: Path) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the test database is dropped by pytest-django itself on SQLite")
    holder = None
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
             str(INNER)],
            cwd=REPO, capture_output=True, text=True, timeout=240,
            env={**os.environ, "INNER_RUN_OUT": str(tmp_path)},
        )  # fmt: skip
        holder = int((tmp_path / "holder").read_text())
        assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr
        assert "being accessed by other users" not in run.stdout + run.stderr
        assert not database_exists((tmp_path / "database").read_text())
    finally:
        if holder is not None:  # gone with its parent already (PR_SET_PDEATHSIG); if not:
            with contextlib.suppress(ProcessLookupError):
                os.kill(holder, signal.SIGKILL)
