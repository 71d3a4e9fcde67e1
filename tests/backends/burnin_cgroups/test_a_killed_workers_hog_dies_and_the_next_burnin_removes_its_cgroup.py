"""A worker SIGKILLed mid burn-in (the job's hard time limit, the OOM killer) cannot kill its
hog nor remove its cgroup. The hog dies with it (it would otherwise run on, swapping, for
up to a day), and the next burn-in removes the cgroup it left. Real processes and a real v1
memory cgroup of the test's own; the v2 cgroup takes the same path (remove_orphans)."""

from __future__ import annotations

import os
import select
import signal
import time
from pathlib import Path

from backends import burnin, cgroups
from backends.plugins.file import FileBackend
from tests.backends.burnin_cgroups.v1_parent import v1_parent
from tests.fixtures.host import needs_root

pytestmark = needs_root

MiB = 1 << 20


def _hog_in(parent: Path, worker: int, timeout: float) -> tuple[Path, int]:
    """The burn-in cgroup the worker made in ``parent`` and the hog's pid, once it joined."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for cg in parent.glob(burnin.CGROUP_PREFIX + "*"):
            pids = [int(p) for p in (cg / "cgroup.procs").read_text().split()]
            if pids and pids[0] != worker:
                return cg, pids[0]
        time.sleep(0.02)
    raise AssertionError(f"no hog joined a burn-in cgroup in {parent} within {timeout} s")


def test_the_hog_dies_with_its_worker_and_the_next_burnin_removes_the_cgroup(
    active: FileBackend,
) -> None:
    with v1_parent() as parent:
        hierarchy = cgroups.V1Hierarchy(parent)
        worker = os.fork()
        if worker == 0:  # the worker: a burn-in far longer than the test
            try:
                burnin.burn_in(
                    active,
                    memory_limit_bytes=32 * MiB,
                    hog_bytes=64 * MiB,
                    seconds=600,
                    hierarchy=hierarchy,
                )
            finally:
                os._exit(0)
        try:
            left, hog = _hog_in(parent, worker, timeout=30)
            hog_fd = os.pidfd_open(hog)
        finally:
            os.kill(worker, signal.SIGKILL)
            os.waitpid(worker, 0)
        try:
            # The hog's pidfd turns readable when it exits.
            ready, _, _ = select.select([hog_fd], [], [], 10)
            assert ready, f"the hog {hog} outlived its SIGKILLed worker"
        finally:
            os.close(hog_fd)
        assert left.is_dir(), "nothing could have removed it yet"

        result = burnin.burn_in(
            active,
            memory_limit_bytes=32 * MiB,
            hog_bytes=48 * MiB,
            seconds=1,
            hierarchy=hierarchy,
        )

        assert not left.exists(), f"the next burn-in left {left} in place"
        assert result.passes >= 1
        assert not list(parent.glob(burnin.CGROUP_PREFIX + "*"))
