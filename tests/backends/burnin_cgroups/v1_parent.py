"""A cgroup v1 memory cgroup of the test's own under the host's v1 memory hierarchy, to make
burn-in cgroups in: the test touches nothing beside it, and takes it down (killing what is
left in it, deepest cgroup first) on every path."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import cgroups


def v1_memory_root() -> Path:
    root = cgroups.v1_memory_mount(cgroups.cgroup_mounts())
    if root is None:
        pytest.skip("no cgroup v1 memory hierarchy on this host")
    return root


def take_down_v1(top: Path) -> None:
    dirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts))
    for cg in [*dirs, top]:
        deadline = time.monotonic() + 30
        while True:
            for pid in (cg / "cgroup.procs").read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            try:
                cg.rmdir()
                break
            except OSError:
                assert time.monotonic() < deadline, f"{cg} keeps its tasks"
                time.sleep(0.05)


@contextlib.contextmanager
def v1_parent(limit: int | None = None) -> Iterator[Path]:
    parent = v1_memory_root() / f"swapadmin-test-{secrets.token_hex(4)}"
    parent.mkdir()
    try:
        if limit is not None:
            (parent / "memory.limit_in_bytes").write_text(str(limit))
        yield parent
    finally:
        take_down_v1(parent)
