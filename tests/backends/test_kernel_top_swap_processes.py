"""top_swap_processes finds a real process whose memory the kernel pushed out to swap."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import kernel
from tests.backends.samples import make_swapfile, swapped_off_after
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.root, needs_root]
CGROUP_V1 = Path("/sys/fs/cgroup/memory")

# Touches 96 MiB of distinct pages, then waits: in a 32 MiB cgroup most of it must swap.
HOG = """
import os, sys
sys.stdin.readline()
block = bytearray(os.urandom(96 * 2**20))
print("ready", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def small_cgroup() -> Iterator[Path]:
    if not (CGROUP_V1 / "memory.limit_in_bytes").exists():
        pytest.skip("needs the cgroup v1 memory controller at /sys/fs/cgroup/memory")
    group = CGROUP_V1 / f"swapadmin-test-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    try:
        (group / "memory.limit_in_bytes").write_text(str(32 * 2**20))
        yield group
    finally:
        group.rmdir()


def test_it_finds_a_process_pushed_to_swap(swap_root: Path, small_cgroup: Path) -> None:
    path = make_swapfile(swap_root, size="200M")
    with swapped_off_after(path):
        kernel.swapon(str(path), priority=32000)
        hog = subprocess.Popen(
            [sys.executable, "-c", HOG], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            (small_cgroup / "cgroup.procs").write_text(str(hog.pid))
            assert hog.stdin is not None and hog.stdout is not None
            hog.stdin.write("go\n")
            hog.stdin.flush()
            assert hog.stdout.readline().strip() == "ready"
            found = {p.pid: p for p in kernel.top_swap_processes(n=10_000)}
            assert hog.pid in found
            assert found[hog.pid].swap_bytes >= 32 * 2**20
            assert found[hog.pid].name.startswith("python")
        finally:
            hog.kill()
            hog.wait()
