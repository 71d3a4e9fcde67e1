"""`make run` ends however its terminal or its own life ends, and takes its children with it:
a SIGHUP (a closed terminal, a dropped ssh session) stops web, worker and beat as Ctrl-C
does; a SIGKILL of runall itself (the OOM killer) leaves them no parent, and each stops on
its own (the kernel's parent-death signal). Before, either left the whole site running under
init, and the next `make run` met a taken port and added a second worker for the host. And a
child killed by a signal with no name (a real-time one) is started again like any other:
before, naming it crashed runall, which stopped the whole site."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_until

from .make_run import make_run, processes_with

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.timeout(300)]


def children_up(run) -> None:
    run.wait(
        lambda: all(run.child(role) for role in ("web", "worker", "beat")),
        60, "web, worker and beat to run",
    )  # fmt: skip


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGKILL], ids=["SIGHUP", "SIGKILL"])
def test_no_process_of_it_outlives_runall(scratch: Path, sig: signal.Signals) -> None:
    with make_run(scratch / "run") as run:
        children_up(run)
        marker = f"SWAPADMIN_HOST={run.host}"
        assert len(processes_with(marker)) >= 4  # runall, gunicorn, worker, beat and more
        os.kill(run.proc.pid, sig)
        run.proc.wait(timeout=60)
        wait_until(
            lambda: processes_with(marker) == [], 60,
            f"every process of the run to end after runall's {sig.name}",
        )  # fmt: skip


def test_a_child_killed_by_a_real_time_signal_is_started_again(scratch: Path) -> None:
    with make_run(scratch / "run") as run:
        children_up(run)
        beat = run.child("beat")
        assert beat is not None
        os.kill(beat, signal.SIGRTMIN + 2)
        number = int(signal.SIGRTMIN) + 2
        run.wait(
            lambda: re.search(rf"beat was killed by signal {number} after \d+ s", run.output()),
            30, "runall to say how beat ended",
        )  # fmt: skip
        run.wait(lambda: run.child("beat") not in (None, beat), 30, "a new beat")
        assert run.proc.poll() is None
        assert run.child("web") and run.child("worker")
