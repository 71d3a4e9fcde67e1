"""The next burn-in removes a cgroup a killed worker left, and nothing else: not the cgroup
of a burn-in still running in a live worker (empty for a moment, between its mkdir and its
hog joining), not one named another way, not one a process in another pid namespace made
(its pid means nothing here). Real cgroups in a cgroup2 hierarchy the test mounts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from backends import cgroups
from tests.fixtures.host import needs_root

pytestmark = needs_root

PREFIX = "swapadmin-burnin-"


def _dead_process() -> tuple[int, int]:
    """The pid and start time of a process that has exited and been reaped."""
    child = subprocess.Popen(["cat"], stdin=subprocess.PIPE)
    started = cgroups._start_time(child.pid)
    assert started is not None
    assert child.stdin is not None
    child.stdin.close()
    child.wait()
    return child.pid, started


def test_only_a_dead_makers_cgroup_is_removed(cgroup2_parent: Path) -> None:
    ns = os.stat("/proc/self/ns/pid").st_ino
    pid, started = _dead_process()
    dead = cgroup2_parent / f"{PREFIX}{ns}-{pid}-{started}-0123abcd"
    live = cgroup2_parent / cgroups.owned_name(PREFIX, "89abcdef")
    # The same dead process, as seen from another pid namespace: not provably dead.
    elsewhere = cgroup2_parent / f"{PREFIX}{ns + 1}-{pid}-{started}-0123abcd"
    unowned = cgroup2_parent / f"{PREFIX}0123abcd"  # what the first v2 release named them
    other = cgroup2_parent / "someone-elses"
    for cg in (dead, live, elsewhere, unowned, other):
        cg.mkdir()
    # A task in the dead maker's cgroup: a hog that outlived its worker.
    hog = subprocess.Popen(["sleep", "600"], preexec_fn=lambda: cgroups.V2Cgroup(dead).enter(0))
    try:
        removed = cgroups.V2Hierarchy(cgroup2_parent).remove_orphans(PREFIX)

        assert removed == [dead]
        assert not dead.exists()
        assert hog.wait(timeout=10) == -9
        assert all(cg.is_dir() for cg in (live, elsewhere, unowned, other))
    finally:
        hog.kill()
        hog.wait()
