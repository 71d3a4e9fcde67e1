"""Run only by test_a_test_run_drops_its_database_though_a_session_lingers.py, in a pytest of
its own (not named test_*, so no other run collects it): a test that starts a process of
its own holding a session on the test database, still there when the run ends. Where to
write what it did comes in INNER_RUN_OUT."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.fixtures.workers import test_database_url as database_url

#: The holder: connects, says so, and waits; killed with its parent (PR_SET_PDEATHSIG).
HOLDER = """
import ctypes, signal, sys, time
import psycopg
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
c = psycopg.connect(sys.argv[1])
c.execute("SELECT 1")
print("connected", flush=True)
time.sleep(600)
"""


@pytest.mark.django_db
def test_leaves_a_session_behind() -> None:
    out = Path(os.environ["INNER_RUN_OUT"])
    (out / "database").write_text(connection.settings_dict["NAME"])
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, database_url()], stdout=subprocess.PIPE, text=True
    )
    (out / "holder").write_text(str(holder.pid))
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "connected"
