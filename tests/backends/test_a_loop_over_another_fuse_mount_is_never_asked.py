"""Which loop devices are over a file is asked of each device (LOOP_GET_STATUS64), and that
question may go to the file's FUSE daemon: a stopped one would make it wait for ever, and
with it a job of another backend. So a device whose backing file lies, by the name sysfs
gives it, on a FUSE filesystem other than the file's own is passed over unasked; a name on
the file's own filesystem, under a deeper mount that is not FUSE, or leading nowhere known
(another namespace's, a lazily detached tree's) is still asked (review 138, finding 5)."""

from __future__ import annotations

import os

from backends import devices
from backends.store import _fuse_elsewhere

FUSE_DEV = os.makedev(0, 77)
OTHER_FUSE_DEV = os.makedev(0, 78)
DISK_DEV = os.makedev(253, 1)


def mount(point: str, dev: int, fstype: str) -> devices.Mount:
    return devices.Mount((os.major(dev), os.minor(dev)), point, fstype, "x")


MOUNTS = [
    mount("/", DISK_DEV, "ext4"),
    mount("/run/uswap/a", FUSE_DEV, "fuse.swapadmin-uswap"),
    mount("/run/uswap/b", OTHER_FUSE_DEV, "fuse.sshfs"),
    mount("/run/uswap/b/inner", DISK_DEV, "tmpfs"),
    mount("/mnt/blk", OTHER_FUSE_DEV, "fuseblk"),
]


def test_a_file_on_another_fuse_mount_is_passed_over() -> None:
    assert _fuse_elsewhere("/run/uswap/b/area", MOUNTS, FUSE_DEV)
    assert _fuse_elsewhere("/run/uswap/b/area (deleted)", MOUNTS, FUSE_DEV)
    assert _fuse_elsewhere("/mnt/blk/f", MOUNTS, DISK_DEV)
    assert _fuse_elsewhere("/run/uswap/a/area", MOUNTS, DISK_DEV)


def test_a_file_that_may_be_the_one_asked_of_is_asked() -> None:
    assert not _fuse_elsewhere("/run/uswap/a/area", MOUNTS, FUSE_DEV)  # its own mount
    assert not _fuse_elsewhere("/var/tmp/store", MOUNTS, FUSE_DEV)  # not FUSE
    assert not _fuse_elsewhere("/run/uswap/b/inner/f", MOUNTS, FUSE_DEV)  # deeper, not FUSE
    assert not _fuse_elsewhere("/run/uswap/ab/f", MOUNTS, FUSE_DEV)  # a prefix is no parent
    assert not _fuse_elsewhere("area", MOUNTS, FUSE_DEV)  # leads nowhere known


def test_a_mount_over_another_at_the_same_point_is_the_one_that_counts() -> None:
    stacked = [*MOUNTS, mount("/run/uswap/b", DISK_DEV, "tmpfs")]
    assert not _fuse_elsewhere("/run/uswap/b/area", stacked, FUSE_DEV)
