"""A test run takes down the zram devices its own processes added (a test's clean-up those
of the test; the run's end, failing, those left), and never one that merely appeared while
it ran: that may be a second test session's on the same machine, a swapadmin of the
machine's own or a distribution's zram-generator. Before, every scratch directory's
take-down swapped off, and the clean-ups and the run's end reset, any zram device that was
not there at the start: two sessions side by side broke each other's tests.

A device another test run noted in its ledger is named at the end; one that no run noted
(most likely a test of this run's that added a device without noting it) fails the run,
and is named and left too."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from backends import kernel
from backends.plugins import zram
from tests.fixtures.host import (
    BASES,
    KEPT_FILE,
    ZRAM_LEDGER,
    LoopMade,
    mounts_under,
    needs_root,
    others_zram,
    release_loop,
    reset_each,
    run,
    zram_diskseq,
)

REPO = Path(__file__).resolve().parents[2]
INNER = Path(__file__).with_name("inner_run_makes_zram_devices.py")

pytestmark = pytest.mark.root


def _device(out: Path, name: str) -> tuple[str, str] | None:
    try:
        dev, seq = (out / name).read_text().split()
    except FileNotFoundError:
        return None
    return dev, seq


def _alive(device: tuple[str, str]) -> bool:
    return zram_diskseq(Path(device[0]).name) == device[1]


def _named(dev: str, text: str) -> bool:
    return re.search(rf"{re.escape(dev)}\b", text) is not None


def _inner(out: Path, select: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         "-k", select, str(INNER)],
        cwd=REPO, capture_output=True, text=True, timeout=240,
        env={**os.environ, "INNER_RUN_OUT": str(out), **(env or {})},
    )  # fmt: skip
    return f"exit {done.returncode}\n{done.stdout}{done.stderr}"


def _take_down(out: Path) -> None:
    """Every device the inner run wrote down, each only while it is still that device."""
    names = ("own_a", "own_b", "child", "stranger", "held")
    devices = [d for d in (_device(out, n) for n in names) if d]
    holder = out / "holder"
    try:
        if holder.exists():
            # Only while it is still the binding the inner run made, through a descriptor
            # held from that check on (review 207/9): a name compared with sysfs could be
            # another run's loop device by the detach.
            release_loop(LoopMade.parse(holder.read_text()))
    finally:
        for dev, seq in devices:
            if zram_diskseq(Path(dev).name) == seq and kernel.is_active(dev):
                run("swapoff", dev, check=False)
        reset_each(devices)


@needs_root
def test_beside_another_run_its_own_go_and_a_strangers_is_left_swapping(tmp_path: Path) -> None:
    try:
        # The stranger is this (outer) run's, as another run's device would be to the inner.
        out = _inner(
            tmp_path, "strangers or own_devices", env={"OUTER_ZRAM_LEDGER": str(ZRAM_LEDGER)}
        )
        own_a, own_b, child, stranger = (
            _device(tmp_path, n) for n in ("own_a", "own_b", "child", "stranger")
        )
        assert own_a and own_b and child and stranger, out
        # The stranger's device outlived the scratch take-down, the zram clean-ups and the
        # run's end: still the same device, still swapping; named, not taken down.
        assert _alive(stranger) and kernel.is_active(stranger[0]), out
        said = next((ln for ln in out.splitlines() if "of other test runs" in ln), "")
        assert _named(stranger[0], said) and str(ZRAM_LEDGER.parent) in said, out
        # The run's own: the clean-up took the first; the end took and named the leak.
        assert not _alive(own_a) and not _alive(own_b) and not _alive(child), out
        blamed = next((ln for ln in out.splitlines() if "HOST SAFETY" in ln), "")
        assert _named(f"zram device {own_b[0]}", blamed), out
        assert _named(f"zram device {child[0]}", blamed), out
        assert not _named(stranger[0], blamed) and not out.startswith("exit 0"), out
        assert blamed.endswith("(now taken down)"), out
    finally:
        _take_down(tmp_path)


@needs_root
def test_a_device_no_run_noted_fails_the_run_and_is_left(tmp_path: Path) -> None:
    """Another run may be alive beside it (this one is): that excuses nothing (review 200/1).
    The inner run looks for other runs' ledgers in an empty directory, so it finds none; the
    device is still noted in this (outer) run's ledger, so that a third run on the machine
    ending meanwhile does not take it for nobody's (201/3)."""
    nowhere = tmp_path / "no-runs"
    nowhere.mkdir()
    try:
        out = _inner(
            tmp_path, "strangers",
            env={"OUTER_ZRAM_LEDGER": str(ZRAM_LEDGER), "SWAPADMIN_TEST_OTHER_RUNS": str(nowhere)},
        )  # fmt: skip
        stranger = _device(tmp_path, "stranger")
        assert stranger and _alive(stranger), out
        assert not _alive(_device(tmp_path, "own_a") or ("", "x")), out
        blamed = next((ln for ln in out.splitlines() if "HOST SAFETY" in ln), "")
        assert _named(stranger[0], blamed) and "no test run noted" in blamed, out
        assert not out.startswith("exit 0"), out
    finally:
        _take_down(tmp_path)


@needs_root
def test_a_device_the_run_cannot_take_down_stays_excused_for_later_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 202/1: the run's ledger went with its base, so a run ending later in the boot
    (this outer one stands for it) failed for the leftover as a device nobody noted. The
    run that left it still fails, naming it. Review 207/4: the kept pairs stay in a place
    of their own, read-only, and the live base goes: a process of the run that outlives it
    can note no more devices there (its note fails, and the zram kind gives the device
    back), where before it went on noting devices that every later run excused."""
    try:
        out = _inner(tmp_path, "device_it_cannot")
        held = _device(tmp_path, "held")
        assert held and _alive(held), out
        blamed = " ".join(ln for ln in out.splitlines() if "HOST SAFETY" in ln)
        assert _named(held[0], blamed) and not out.startswith("exit 0"), out
        base = Path((tmp_path / "base").read_text())
        kept = base.with_name(base.name + ".kept")
        assert not base.exists(), out
        assert stat.S_IMODE(os.lstat(kept).st_mode) == 0o700, out
        assert stat.S_IMODE(os.lstat(kept / KEPT_FILE).st_mode) == 0o400, out
        assert f"{held[0]} {held[1]}" in (kept / KEPT_FILE).read_text().splitlines(), out
        assert str(kept / KEPT_FILE) in blamed, out
        assert others_zram().get(held) == str(kept), out
        # A leftover worker of the run, which carries the run's ledger in its environment.
        monkeypatch.setenv(zram.LEDGER_ENV, str(base / "zram-ledger"))
        with pytest.raises(FileNotFoundError):
            zram.note_added("zram999999", "1")
    finally:
        monkeypatch.undo()
        _take_down(tmp_path)
        _remove_base(tmp_path)


@needs_root
def test_a_mount_the_run_cannot_take_down_keeps_its_base_whole(tmp_path: Path) -> None:
    """Review 207/7: the run's end unmounted with ``umount -l``, did not look again, and
    removed the base with everything beneath it: into a mount still there, deleting what is
    on it. Now the base stays whole, and the run fails, saying so."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "umount").write_text("#!/bin/sh\nexit 32\n")
    (bindir / "umount").chmod(0o755)
    try:
        out = _inner(
            tmp_path, "mount_it_cannot", env={"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
        )
        mnt = Path((tmp_path / "mount").read_text())
        assert (mnt / "still-here").exists(), out
        said = " ".join(ln for ln in out.splitlines() if "HOST SAFETY" in ln)
        assert str(mnt) in said and "stays whole" in said, out
        # Looked at again after the take-down: the mount is said to be still there, never
        # "taken down" (review 212/9).
        stayed = said.partition("still there after the take-down: ")[2]
        assert f"mount {mnt}" in stayed and "(now taken down)" not in said, out
        assert not out.startswith("exit 0"), out
    finally:
        mount = tmp_path / "mount"
        if mount.exists() and mounts_under(mount.read_text()):
            run("umount", mount.read_text())
        _remove_base(tmp_path)


def _remove_base(out: Path) -> None:
    """The inner run's base, and what it kept, if they are still there."""
    base_file = out / "base"
    if not base_file.exists():
        return
    base = Path(base_file.read_text())
    if base.parent != Path(BASES) or not base.name.startswith("swapadmin-test-"):
        return
    for left in (base, base.with_name(base.name + ".kept")):
        if left.exists() and not mounts_under(str(left)):
            shutil.rmtree(left, ignore_errors=True)
