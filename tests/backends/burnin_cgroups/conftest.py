"""Fixtures for the cgroup v2 path, on the real kernel: a cgroup2 hierarchy the test mounts
in its own directory, a parent cgroup of the test's own in it, and an active swap area
(``tests.fixtures.burn_in``, shared with the cgroup v1 tests).

cgroup2 is one hierarchy per cgroup namespace: the mount shows the same tree as any other
cgroup2 mount on the host, so the test works only inside the parent it made, and takes it
down (killing what is left in it, deepest cgroup first) and unmounts on every path.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import cgroups
from tests.fixtures.burn_in import active, backend  # noqa: F401  (the fixtures)


@pytest.fixture
def cgroup2_mount(tmp_path: Path) -> Iterator[Path]:
    point = tmp_path / "cgroup2"
    point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "cgroup2", "none", str(point)], capture_output=True, text=True
    )
    if done.returncode != 0:
        point.rmdir()
        pytest.skip(f"the kernel refuses a cgroup2 mount here: {done.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)
        point.rmdir()


@pytest.fixture
def cgroup2_parent(cgroup2_mount: Path) -> Iterator[Path]:
    """A cgroup of the test's own, with no processes: the parent v2 lets give controllers
    to children."""
    parent = cgroup2_mount / f"swapadmin-test-{secrets.token_hex(4)}"
    parent.mkdir()
    try:
        yield parent
    finally:
        take_down(parent)


def take_down(top: Path) -> None:
    """Kill every task under ``top`` and remove its cgroups, deepest first."""
    dirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
    for cg in [*dirs, top]:
        for pid in (cg / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while "populated 1" in (cg / "cgroup.events").read_text():
            assert time.monotonic() < deadline, f"{cg} keeps its tasks"
            time.sleep(0.05)
        cg.rmdir()


def has_memory_on_v2(parent: Path) -> bool:
    return cgroups.MEMORY in cgroups.controllers(parent)
