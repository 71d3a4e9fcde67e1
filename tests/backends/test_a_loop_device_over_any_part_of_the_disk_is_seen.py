"""``store.loops_over_device`` finds a loop device attached over the store's device, over
the disk the store is a partition of, or over a partition of the store's disk: each is
another name for its bytes (reviews 226/1, 227/2). It asks the kernel which device each
loop device serves, not the backing's name (227/3)."""

from __future__ import annotations

import os
from pathlib import Path

from backends import store
from tests.fixtures.by_hand import attached
from tests.fixtures.host import attach_loop, needs_root, release_loop, run

pytestmark = needs_root


def test_a_loop_device_over_the_whole_disk_reaches_its_partition(scratch: Path) -> None:
    image = scratch / "disk.img"
    with open(image, "wb") as f:
        f.truncate(16 << 20)
    run("sfdisk", "-q", str(image), input="label: dos\n,8M\n,\n")
    disk = attach_loop(image, "-P")
    try:
        # The scan -P asks for does not always add the partitions here: partx does.
        run("partx", "-u", disk.dev)
        part = disk.dev + "p1"
        part_rdev = os.stat(part).st_rdev
        disk_rdev = os.stat(disk.dev).st_rdev
        assert {part_rdev, disk_rdev, os.stat(disk.dev + "p2").st_rdev} == (
            store.same_disk_numbers(part_rdev)
        )
        assert store.loops_over_device(os.stat(part)) == []
        with attached(disk.dev) as over_disk:
            # Asked of the kernel: the number of the very device it serves.
            with open(over_disk, "rb") as f:
                assert store.loop_rdevice(f.fileno()) == disk_rdev
            # The whole disk's loop device holds the partition's bytes too.
            assert store.loops_over_device(os.stat(part)) == [over_disk]
            assert store.loops_over_device(os.stat(disk.dev)) == [over_disk]
            # Said as what it is over (228/4).
            assert _said(disk.dev) == f"{over_disk} attached over it"
            assert _said(part) == f"{over_disk} attached over {disk.dev}, of its disk"
        with attached(disk.dev + "p2") as over_other:
            # A sibling partition is on the same disk: its loop device is refused too.
            assert store.loops_over_device(os.stat(part)) == [over_other]
            assert _said(part) == f"{over_other} attached over {disk.dev}p2, of its disk"
    finally:
        run("partx", "-d", disk.dev, check=False)
        release_loop(disk)


def _said(dev: str) -> str:
    st = os.stat(dev)
    return store.attached_over(st, store.loops_over_disk(st))


def test_a_loop_device_over_a_file_is_over_no_device(scratch: Path) -> None:
    backing = scratch / "file"
    with open(backing, "wb") as f:
        f.truncate(4 << 20)
    with attached(backing) as dev:
        with open(dev, "rb") as f:
            assert store.loop_rdevice(f.fileno()) == 0
        assert dev not in store.loops_over_device(os.stat(dev))
