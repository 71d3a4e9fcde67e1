"""A v2 cgroup is removed the v2 way: every task in it killed (forks included, through
cgroup.kill), the kernel's ``populated 0`` event awaited, then rmdir. Real cgroups in a
cgroup2 hierarchy the test mounts; the memory controller is not needed for this."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from backends import cgroups
from tests.fixtures.host import needs_root

pytestmark = needs_root

# The child forks a grandchild and says so once both run.
FORKER = r"""
import os, sys, time
if os.fork() == 0:
    time.sleep(600)
    os._exit(0)
print("both", flush=True)
time.sleep(600)
"""


def test_it_kills_every_task_waits_for_the_kernel_and_removes_the_cgroup(
    cgroup2_parent: Path,
) -> None:
    leaf = cgroup2_parent / "leaf"
    leaf.mkdir()
    cg = cgroups.V2Cgroup(leaf)
    child = subprocess.Popen(
        [sys.executable, "-c", FORKER],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: cgroups.V2Cgroup(leaf).enter(0),  # 0: the writing process
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "both"
        pids = cg.pids()
        assert len(pids) == 2 and child.pid in pids
        assert cg.populated()

        cg.remove()

        assert not leaf.exists()
        assert child.wait(timeout=10) == -9
        for pid in pids:
            assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def _is_zombie(pid: int) -> bool:
    # The grandchild's parent is gone: init reaps it, maybe a moment later.
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True


def test_removing_twice_is_harmless(cgroup2_parent: Path) -> None:
    leaf = cgroup2_parent / "leaf"
    leaf.mkdir()
    cg = cgroups.V2Cgroup(leaf)
    cg.remove()
    cg.remove()
    assert not leaf.exists()


def test_its_event_files_read_as_the_kernel_writes_them(cgroup2_parent: Path) -> None:
    leaf = cgroup2_parent / "leaf"
    leaf.mkdir()
    cg = cgroups.V2Cgroup(leaf)
    try:
        events = cgroups.parse_flat_keyed((leaf / "cgroup.events").read_text())
        assert events["populated"] == 0
        # memory.events as Documentation/admin-guide/cgroup-v2.rst gives it; the file exists
        # only where memory is enabled on v2, and is read-only, so it cannot be made here.
        memory_events = "low 0\nhigh 0\nmax 41\noom 1\noom_kill 1\noom_group_kill 0\n"
        parsed = cgroups.parse_flat_keyed(memory_events)
        assert (parsed["oom_kill"], parsed["max"]) == (1, 41)
        if not (leaf / "memory.events").exists():
            # Without the memory controller: no counters, and no swap figure invented.
            assert cg.use() == cgroups.MemoryUse(0, 0, None, None)
    finally:
        cg.remove()


def test_waiting_for_the_cgroup_to_empty_wakes_on_the_kernels_event(cgroup2_parent: Path) -> None:
    leaf = cgroup2_parent / "leaf"
    leaf.mkdir()
    cg = cgroups.V2Cgroup(leaf)
    # A task that leaves by itself a second from now; the wait must wake when it does, on
    # the populated event, long before its 20 s timeout.
    child = subprocess.Popen(["sleep", "1"], preexec_fn=lambda: cgroups.V2Cgroup(leaf).enter(0))
    try:
        assert cg.populated()
        started = time.monotonic()
        cg.wait_unpopulated(timeout=20)
        waited = time.monotonic() - started
        assert child.wait(timeout=5) == 0  # it left on its own: nothing killed it
        assert not cg.populated()
        assert waited < 10, f"woke after {waited:.1f} s: the event was missed"
    finally:
        cg.remove()
        child.wait()
