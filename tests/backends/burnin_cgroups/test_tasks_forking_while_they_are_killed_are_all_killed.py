"""Removing a cgroup kills every task in it even when they fork while the list is read:
v1 (and v2 before cgroup.kill) can only read cgroup.procs and SIGKILL what it lists, and a
task that forks and exits in between escapes that pass. Real tasks in a cgroup v1 named
hierarchy (no controller) the test mounts in its own directory, and in the test's cgroup2.

The kernel narrows the window (a fork that a SIGKILL reaches midway fails), so one pass
over twenty such chains left a task alive about one time in ten, measured here; removal
without a second pass then waited on an EBUSY rmdir until its timeout. These tests show
every chain is killed, every time; they cannot show the escape itself on demand."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import cgroups
from tests.backends.burnin_cgroups.v1_parent import take_down_v1
from tests.fixtures.host import needs_root

pytestmark = needs_root

# Moves itself into the cgroup (argv[1]), then forks a child and exits, over and over: one
# task alive at a time, a new pid every few hundred microseconds. It stops by itself after a
# minute, should a test leak it.
CHAIN = r"""
import os, sys, time
with open(sys.argv[1], "w") as f:
    f.write("0")
end = time.time() + 60
print("forking", flush=True)
os.close(1)
while time.time() < end:
    if os.fork():
        os._exit(0)
"""

# Starts the chains and reaps every task of theirs as it exits. Each chain task exits as
# soon as it has forked; left to PID 1, the dead ones wait to be reaped, and one CI machine's
# PID 1 fell so far behind that they held every free pid: fork failed with EAGAIN, for the
# chains and for anything else on the machine. This process is their subreaper (prctl
# PR_SET_CHILD_SUBREAPER), so they come back to it, and it reaps from before the first chain
# starts (a thread), not only once all are running. It stays outside the cgroup and exits
# once no task of theirs is left.
REAPER = r"""
import ctypes, os, subprocess, sys, threading
procs, chains, chain = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:
    sys.exit(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}")
started = threading.Event()
def reap():
    while True:
        try:
            os.wait()
        except ChildProcessError:
            if started.is_set():
                return
            started.wait(0.01)  # before the first chain: nothing to wait for yet
reaper = threading.Thread(target=reap)
reaper.start()
try:
    for _ in range(chains):
        c = subprocess.Popen([sys.executable, "-c", chain, procs], stdout=subprocess.PIPE,
                             text=True)
        if c.stdout.readline().strip() != "forking":
            sys.exit("a chain did not start")
    print("forking", flush=True)
finally:
    started.set()  # else a failed start left the thread waiting for it, and us for ever
reaper.join()
"""


V1_NAME = "swapadmin-test"


@pytest.fixture
def v1_named(tmp_path: Path) -> Iterator[Path]:
    point = tmp_path / "cgroup-v1"
    point.mkdir()
    # One name for every run: the kernel keeps a named v1 hierarchy after its last umount
    # (seen here on 6.18: it stays in /proc/self/cgroup for good, even if nothing was ever
    # made in it), so a name per run left one more hierarchy behind each time. Runs at once
    # share it and keep apart by the leaf's name.
    done = subprocess.run(
        ["mount", "-t", "cgroup", "-o", f"none,name={V1_NAME}", V1_NAME, str(point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        point.rmdir()
        pytest.skip(f"the kernel refuses a cgroup v1 mount here: {done.stderr.strip()}")
    leaf = point / f"leaf-{secrets.token_hex(4)}"
    try:
        leaf.mkdir()
        yield leaf
    finally:
        with contextlib.suppress(FileNotFoundError):
            take_down_v1(leaf)
        subprocess.run(["umount", str(point)], check=True)
        point.rmdir()


CHAINS = 20


@contextlib.contextmanager
def _chains(leaf: Path, cg: cgroups.MemoryCgroup) -> Iterator[subprocess.Popen[str]]:
    reaper = subprocess.Popen(
        [sys.executable, "-c", REAPER, str(leaf / "cgroup.procs"), str(CHAINS), CHAIN],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reaper.stdout is not None
        assert reaper.stdout.readline().strip() == "forking", "the chains did not start"
        assert cg.pids(), "the chains are running in the cgroup"
        yield reaper
    finally:
        if reaper.poll() is None and leaf.exists():  # a failure before the chains died
            _kill_all(leaf)
        try:
            reaper.wait(timeout=90)  # the chains end by themselves within a minute
        except subprocess.TimeoutExpired:
            reaper.kill()
            reaper.wait()
        assert reaper.stdout is not None
        reaper.stdout.close()


def _kill_all(leaf: Path) -> None:
    """SIGKILL what the cgroup lists until it lists nothing (a chain forks meanwhile)."""
    deadline = time.monotonic() + 30
    while pids := (leaf / "cgroup.procs").read_text().split():
        assert time.monotonic() < deadline, f"{leaf} keeps its tasks"
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def _reaped(reaper: subprocess.Popen[str]) -> None:
    """Every task of the chains is gone: the reaper has nothing left to wait for."""
    assert reaper.wait(timeout=30) == 0


def test_v1_removal_kills_a_forking_chain_and_removes_the_cgroup(v1_named: Path) -> None:
    cg = cgroups.V1Cgroup(v1_named)
    with _chains(v1_named, cg) as reaper:
        cg.remove(timeout=10)

        assert not v1_named.exists()
        _reaped(reaper)


def test_killing_each_task_in_turn_empties_a_v2_cgroup_too(cgroup2_parent: Path) -> None:
    leaf = cgroup2_parent / "leaf"
    leaf.mkdir()
    cg = cgroups.V2Cgroup(leaf)
    with _chains(leaf, cg) as reaper:
        cg.kill_each(time.monotonic() + 10)

        cg.wait_unpopulated(timeout=10)
        assert not cg.populated()
        _reaped(reaper)
