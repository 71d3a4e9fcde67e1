"""A test run takes down, at its end, the zram devices its own processes added and left
(the failure names them), and never one that merely appeared while it ran: that may be a
second test session's on the same machine, a swapadmin of the machine's own or a
distribution's zram-generator. Before, the run reset every zram device that was not there
at its start; two sessions side by side reset each other's devices mid-test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.host import needs_root, reset_each, zram_diskseq

REPO = Path(__file__).resolve().parents[2]
INNER = Path(__file__).with_name("inner_run_makes_zram_devices.py")

pytestmark = pytest.mark.root


def _device(out: Path, name: str) -> tuple[str, str] | None:
    try:
        dev, seq = (out / name).read_text().split()
    except FileNotFoundError:
        return None
    return dev, seq


@needs_root
def test_the_run_removes_its_own_devices_and_leaves_a_strangers(tmp_path: Path) -> None:
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
             str(INNER)],
            cwd=REPO, capture_output=True, text=True, timeout=240,
            env={**os.environ, "INNER_RUN_OUT": str(tmp_path)},
        )  # fmt: skip
        out = run.stdout + run.stderr
        own, child, stranger = (_device(tmp_path, n) for n in ("own", "child", "stranger"))
        assert own and child and stranger, out
        # The leak fails the run, named; both of the session's devices are gone.
        assert run.returncode != 0 and "HOST SAFETY" in out, out
        assert f"zram device {own[0]}" in out and f"zram device {child[0]}" in out, out
        assert zram_diskseq(Path(own[0]).name) != own[1]
        assert zram_diskseq(Path(child[0]).name) != child[1]
        # The stranger's device is still there, the same device, and named as left alone.
        assert zram_diskseq(Path(stranger[0]).name) == stranger[1], out
        assert f"zram device {stranger[0]}" not in out
        assert "left alone" in out and stranger[0] in out, out
    finally:
        # Each only while it still is the device added (reset_zram checks the sequence).
        reset_each(d for d in (_device(tmp_path, n) for n in ("own", "child", "stranger")) if d)
