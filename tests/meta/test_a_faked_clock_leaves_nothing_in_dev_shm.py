"""libfaketime makes a semaphore and a shared-memory segment in /dev/shm for the first
process it is loaded into and never removes them: a run of the suite left them behind
(round 197). A process the tests run with its clock off is followed by their removal,
whether it ended or was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.clock import (
    SHM,
    clock_off_by,
    exited,
    give_back_clock,
    run_with_clock_off,
)

REPO = Path(__file__).resolve().parents[2]
SAYS = (
    "import os, time; pid = os.getpid(); "
    "print(pid, time.time(), os.path.exists(f'/dev/shm/faketime_shm_{pid}'), flush=True)"
)


def _left(pid: int) -> list[str]:
    return sorted(p.name for p in SHM.iterdir() if p.name.endswith(f"_{pid}"))


def test_a_process_run_with_its_clock_off_leaves_nothing() -> None:
    before = time.time()
    out = run_with_clock_off(
        600, [sys.executable, "-c", SAYS], env=dict(os.environ), timeout=60, cwd=REPO
    )
    pid, its_time, had = out.stdout.split()
    assert float(its_time) - before > 500, "the clock was not off: libfaketime not loaded"
    assert had == "True", "libfaketime made no segment: the test shows nothing"
    assert _left(int(pid)) == []


def test_a_killed_process_is_followed_by_the_removal() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SAYS + "; import sys; sys.stdin.read()"],
        env={**os.environ, **clock_off_by(600)},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        pid, _, had = proc.stdout.readline().split()
        assert had == "True" and int(pid) == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        exited(proc, None)
        left = _left(proc.pid)
        give_back_clock(proc.pid)
        proc.communicate()
    assert left, "a killed process left nothing: libfaketime changed"
    assert _left(proc.pid) == []


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_clock_was_off_leaves_nothing(start_worker) -> None:  # type: ignore[no-untyped-def]
    w = start_worker(env=clock_off_by(600))
    assert _left(w.pid), "the worker made no segment: the test shows nothing"
    w.stop()
    assert _left(w.pid) == []


def test_a_process_that_outlives_its_time_is_killed_and_leaves_nothing() -> None:
    """The command never ends (it waits for an hour): the time given is the event the test
    waits for. Its group is killed and the segments go, and what it printed is in the error
    (review 218/1). A machine too slow to start Python within the time gives nothing to
    look at, and the test says so rather than pass or fail on it."""
    hangs = SAYS + "; time.sleep(3600)"
    argv = [sys.executable, "-c", hangs]
    with pytest.raises(subprocess.TimeoutExpired) as timed_out:
        run_with_clock_off(600, argv, env=dict(os.environ), timeout=5, cwd=REPO)
    out = timed_out.value.output or ""
    said = (out.decode() if isinstance(out, bytes) else out).split()
    if not said:
        pytest.skip("the command was killed before it printed its pid: nothing to look at")
    pid, _, had = said
    assert had == "True", "libfaketime made no segment: the test shows nothing"
    assert _left(int(pid)) == []
