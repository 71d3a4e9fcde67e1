"""A swap file made and formatted by the file kind's provision is accepted by the real kernel
on each filesystem, activated through the descriptor it was proven on."""

from __future__ import annotations

import fcntl
import os
import stat
import struct
import uuid
from pathlib import Path

import pytest

from backends import header, kernel
from backends.base import PAGE_SIZE
from backends.plugins.file import FS_IOC_GETFLAGS, FS_NOCOW_FL, FileBackend
from backends.policy import Policy
from tests.fixtures.host import mounted_image, needs_root, run
from tests.fixtures.stores import rebuilt

SIZE = 32 * 1024 * 1024


def _flags(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        return int(struct.unpack("=i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 4))[0])
    finally:
        os.close(fd)


@needs_root
@pytest.mark.parametrize("fstype", ["ext4", "xfs", "btrfs"])
def test_it_provisions_a_file_that_swapon_accepts(scratch: Path, fstype: str) -> None:
    with mounted_image(scratch, fstype) as mnt:
        root = mnt / "swap"
        root.mkdir(mode=0o700)
        path = root / "swap0"
        backend = FileBackend(
            {"path": str(path)},
            size_bytes=SIZE,
            policy=Policy(swap_roots=(root,)),
            provisioning=True,
            owner=str(uuid.uuid4()),
        )

        backend.swapfile(True)

        st = os.lstat(path)
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
        assert (st.st_uid, st.st_gid) == (0, 0)
        assert st.st_size == SIZE and st.st_blocks * 512 >= SIZE
        assert bool(_flags(path) & FS_NOCOW_FL) == (fstype == "btrfs")
        info = backend.describe()
        assert info["filesystem"] == fstype
        assert info["extents"] >= 1 and info["problems"] == []
        assert info["size_pages"] == SIZE // PAGE_SIZE
        assert backend.capacity_bytes() == SIZE

        header.mkswap(backend)
        backend.close()
        later = rebuilt(backend)  # the activate job
        assert isinstance(later, FileBackend)
        backend = later
        store = backend.open_for_swapon()
        try:
            kernel.swapon(str(path), fd=store.fd)
        finally:
            store.close()
        try:
            assert kernel.is_active(str(path)) and backend.is_active()
            assert str(path) in Path("/proc/swaps").read_text()
            before = os.stat(path)
            # Enabling again while active verifies and changes nothing.
            backend.swapfile(True)
            assert describe_while_active(backend) >= 1
            after = os.stat(path)
            assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        finally:
            run("swapoff", str(path))
        assert not kernel.is_active(str(path))


def describe_while_active(backend: FileBackend) -> int:
    extents = backend.describe()["extents"]
    assert isinstance(extents, int)
    return extents
