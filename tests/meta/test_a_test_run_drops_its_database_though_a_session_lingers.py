"""A test run drops its test database at its end even when a process a test started still
holds a session on it (a worker killed a moment before, whose server session has not yet
ended): DROP DATABASE refuses while anyone is connected, pytest-django only warns, and the
database stayed on the server for good; a few days of runs had left over a hundred."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parents[2]

INNER = """
import subprocess, sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from tests.fixtures.workers import test_database_url as database_url


@pytest.mark.django_db
def test_leaves_a_session_behind():
    out = Path({out!r})
    (out / "database").write_text(connection.settings_dict["NAME"])
    # A process of its own, holding a session on the test database, still there at the end.
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import psycopg, sys, time; c = psycopg.connect(sys.argv[1]); "
         "c.execute('SELECT 1'); print('connected', flush=True); time.sleep(3600)",
         database_url()],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )
    (out / "holder").write_text(str(holder.pid))
    assert holder.stdout.readline().strip() == "connected"
"""


def database_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return cursor.fetchone() is not None


@pytest.mark.django_db
def test_the_run_ends_the_session_and_drops_its_database(tmp_path: Path) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the test database is dropped by pytest-django itself on SQLite")
    inner = tmp_path / "inner"
    inner.mkdir()
    # Under tests/ for its conftest; not named test_*, so that no other run collects it.
    module = REPO / "tests" / "meta" / f"inner_run_{os.getpid()}_{tmp_path.name}.py"
    module.write_text(textwrap.dedent(INNER.format(out=str(tmp_path))))
    holder = None
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
             str(module)],
            cwd=REPO, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        holder = int((tmp_path / "holder").read_text())
        assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr
        assert "being accessed by other users" not in run.stdout + run.stderr
        assert not database_exists((tmp_path / "database").read_text())
    finally:
        module.unlink(missing_ok=True)
        if holder is not None:
            try:
                os.kill(holder, signal.SIGKILL)
                os.waitpid(holder, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
