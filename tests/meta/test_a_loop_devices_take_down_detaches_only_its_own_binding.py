"""A loop device's take-down (``attached_loop``'s, and ``take_down``'s of a loop-mounted
image) detaches only the binding its fixture made, through a descriptor that holds it from
the check on: never a loop device by its name alone, which may be another test run's by the
time of the detach. Each test stands in for that other run itself.

- Review 207/2: the file identity (device, inode) was the only check; a file detached and
  attached again (or a new file given a deleted one's inode number) passes it. The disk
  sequence number read right after the attach tells the bindings apart.
- Review 207/3: between the check and ``losetup -d`` by name, the name could be freed and
  taken; a descriptor held from the check on keeps the binding, and the detach goes
  through it.
- Review 207/1: ``mount -o loop`` makes the device autoclear, so the unmount freed it
  before ``take_down`` detached the listed name; the devices are pinned before the
  unmount now."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import host
from tests.fixtures.host import (
    LoopMade,
    attach_loop,
    attached_loop,
    attached_loops,
    mounted_image,
    needs_root,
    release_loop,
    still_bound,
    under,
)

pytestmark = pytest.mark.root

SIZE = 16 << 20


def _file(path: Path) -> Path:
    with open(path, "wb") as f:
        f.truncate(SIZE)
    return path


def _free(dev: str, seconds: float) -> bool:
    backing = Path("/sys/block", Path(dev).name, "loop", "backing_file")
    deadline = time.monotonic() + seconds
    while backing.exists():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _bound_to(dev: str, path: Path) -> bool:
    backing = Path("/sys/block", Path(dev).name, "loop", "backing_file")
    try:
        return backing.read_text().strip() == str(path)
    except OSError:
        return False


def _by_name(calls: list[tuple[str, ...]], dev: str) -> list[tuple[str, ...]]:
    """The detaches of ``dev`` by its name among the fixture's commands."""
    return [c for c in calls if c[:2] == ("losetup", "-d") and dev in c[2:]]


@needs_root
def test_the_same_file_attached_again_at_the_name_is_left(scratch: Path) -> None:
    disk = _file(scratch / "disk.img")
    again: LoopMade | None = None
    try:
        with attached_loop(disk, SIZE) as dev:
            host.run("losetup", "-d", dev)
            assert _free(dev, 5.0), f"{dev} stayed attached after losetup -d"
            # Same file, same inode, same name: only the disk sequence number differs.
            again = attach_loop(disk, at=dev)
        assert still_bound(again), f"{dev}, attached again by another, was detached"
    finally:
        if again is not None:
            release_loop(again)


@needs_root
def test_a_name_freed_and_taken_after_the_check_is_left(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Right after the check (at the swapoff), another run detaches the name and attaches a
    file of its own: the binding stays ours until the fixture's own detach, through its
    descriptor, so the other run's device is elsewhere and outlives the take-down."""
    disk, other = _file(scratch / "disk.img"), _file(scratch / "other.img")
    taken: list[LoopMade] = []
    held: list[bool] = []
    calls: list[tuple[str, ...]] = []
    real_run = host.run

    def run(*argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        done = real_run(*argv, **kw)
        if argv[0] == "swapoff" and not taken:
            real_run("losetup", "-d", argv[1], check=False)
            held.append(_bound_to(argv[1], disk))
            taken.append(attach_loop(other))
        return done

    try:
        with attached_loop(disk, SIZE) as dev:
            monkeypatch.setattr(host, "run", run)
        monkeypatch.undo()
        assert held == [True], f"{dev} was freed by another's detach while its fixture held it"
        assert not _by_name(calls, dev), f"{dev} was detached by its name: {calls}"
        assert taken and still_bound(taken[0]), f"{taken[0].dev}, another's, was detached"
        assert not any(under(f, str(disk)) for f in attached_loops().values())
    finally:
        monkeypatch.undo()
        for made in taken:
            release_loop(made)


@needs_root
def test_a_name_freed_by_the_unmount_and_taken_is_left(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mount -o loop`` sets autoclear: before, the unmount freed the name at once, for
    another run to take before ``take_down``'s detach by name. Pinned before the unmount,
    the binding outlives it until the descriptor's own detach."""
    other = _file(scratch / "other.img")
    where = scratch / "image"
    where.mkdir()
    taken: list[LoopMade] = []
    held: list[bool] = []
    calls: list[tuple[str, ...]] = []
    real_run = host.run

    try:
        with mounted_image(where, "ext4", size_mb=16):
            mine = [d for d, f in attached_loops().items() if under(f, str(where))]
            assert len(mine) == 1, attached_loops()
            image = Path(attached_loops()[mine[0]])

            def run(*argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
                calls.append(argv)
                done = real_run(*argv, **kw)
                if argv[0] == "umount" and not taken:
                    held.append(_bound_to(mine[0], image))
                    taken.append(attach_loop(other))  # another run, right after
                return done

            monkeypatch.setattr(host, "run", run)
        monkeypatch.undo()
        assert held == [True], f"{mine[0]} was freed by the unmount before its take-down"
        assert not _by_name(calls, mine[0]), f"{mine[0]} was detached by its name: {calls}"
        assert taken and still_bound(taken[0]), f"{taken[0].dev}, another's, was detached"
        assert not [d for d, f in attached_loops().items() if under(f, str(where))]
    finally:
        monkeypatch.undo()
        for made in taken:
            release_loop(made)
