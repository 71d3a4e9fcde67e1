"""A device that cannot be read where libblkid looks is not a device that holds nothing.

wipefs that opens a device but meets a read error ends libblkid's probe loop and exits 0
with a short or empty listing (review 148/1): the block kind's "holds data" check then saw
nothing on a disk holding ext4, and formatted it. Probers follow offsets stored on the
disk (NTFS's $MFT, DDF's header), so no fixed set of regions covers them (review 154/1):
the listing that gates a write is bracketed by a child running libblkid's whole probe,
whose own answer tells a probe broken by a read error from one that ended, and which also
reads the first 8 and last 32 MiB. Either failing is a refusal that only force overrides.

The device is real: a loop device over a FUSE file whose chosen pages fail reads with EIO
(``tests/faults/faultyfs.c``). Its ext4 is written into the file the FUSE server serves,
so only the device's reads fail, as on a disk with a bad sector.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from backends import wipefs
from backends.base import PAGE_SIZE
from backends.errors import UnsafeError
from backends.plugins.block import BlockBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run

SIZE = 64 << 20
PAGES = SIZE // PAGE_SIZE


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ext4_device(
    make_faulty_device: Callable[..., str], scratch: Path, bad: list[int]
) -> tuple[str, Path]:
    """A faulty device whose ``bad`` pages fail reads, holding ext4 labelled "precious";
    and the image file behind it (read directly, it shows what the device holds)."""
    dev = make_faulty_device(SIZE, bad, fail="r")
    (image,) = scratch.glob("faulty-*/image")
    run("mkfs.ext4", "-q", "-F", "-L", "precious", str(image))
    # Anything udev's probe cached of the empty file is dropped: reads go to the file now.
    run("blockdev", "--flushbufs", dev)
    return dev, image


@needs_root
def test_a_provision_is_refused_where_wipefs_sees_nothing(
    make_faulty_device: Callable[..., str], scratch: Path, policy: Policy
) -> None:
    dev, image = _ext4_device(make_faulty_device, scratch, [0])
    # The hole itself: wipefs exits 0 and lists nothing on a device holding ext4.
    listed = run("wipefs", "--no-act", "--json", dev, check=False)
    assert listed.returncode == 0
    assert "ext4" not in listed.stdout
    before = _digest(image)
    backend = BlockBackend(
        {"device": dev}, policy=policy, provisioning=True, owner=str(uuid.uuid4())
    )
    with pytest.raises(
        UnsafeError,
        match=rf"^{dev} cannot be read within bytes 0x0-0x100000 \(Input/output error\), "
        r"where filesystems, .* what it holds is not known. Confirm with force",
    ):
        backend.swapfile(True)
    assert backend._store is None  # nothing was kept open for a write
    assert _digest(image) == before
    assert (
        json.loads(run("wipefs", "--no-act", "--json", str(image)).stdout)["signatures"][0]["type"]
        == "ext4"
    )


@needs_root
def test_the_end_of_the_device_is_read_too(
    make_faulty_device: Callable[..., str], scratch: Path
) -> None:
    # The last page: where GPT keeps its backup and RAID formats their metadata.
    dev, _ = _ext4_device(make_faulty_device, scratch, [PAGES - 1])
    fd = os.open(dev, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with pytest.raises(UnsafeError) as refused:
            wipefs.signatures_read_whole(fd, dev)
    finally:
        os.close(fd)
    # Read ahead, the kernel fails the whole window the bad page is in: the range named is
    # that window, and holds the page.
    named = re.match(
        rf"^{dev} cannot be read within bytes (0x[0-9a-f]+)-(0x[0-9a-f]+) ", str(refused.value)
    )
    assert named is not None, refused.value
    start, end = (int(x, 16) for x in named.groups())
    assert start <= (PAGES - 1) * PAGE_SIZE < end == SIZE


@needs_root
def test_a_bad_page_where_libblkid_does_not_look_is_no_refusal(
    make_faulty_device: Callable[..., str], scratch: Path
) -> None:
    # At 16 MiB, where no prober of ext4's device reads and outside the regions read
    # whole: a disk a scan found bad pages on stays usable where they hide nothing.
    dev, _ = _ext4_device(make_faulty_device, scratch, [(16 << 20) // PAGE_SIZE])
    fd = os.open(dev, os.O_RDONLY | os.O_CLOEXEC)
    try:
        found = wipefs.signatures_read_whole(fd, dev)
    finally:
        os.close(fd)
    assert [(s.type, s.label) for s in found] == [("ext4", "precious")]


NTFS_MFT = 16 << 20  # Windows puts it 3 GiB in; what matters is past any fixed region


def _ntfs(image: Path) -> None:
    """A minimal NTFS that libblkid recognises: a boot sector naming its $MFT, and the
    $MFT's records 0 and 3 (libblkid reads them for the volume's label)."""
    boot = bytearray(512)
    boot[0:11] = b"\xeb\x52\x90NTFS    "
    struct.pack_into("<HB", boot, 11, 512, 8)  # bytes per sector, sectors per cluster
    boot[21] = 0xF8  # media descriptor
    struct.pack_into("<QQQb", boot, 40, SIZE // 512 - 1, NTFS_MFT // 4096, 2, -10)
    with open(image, "r+b") as f:
        f.write(boot)
        for record in (0, 3):
            rec = bytearray(1024)
            rec[0:4] = b"FILE"
            struct.pack_into("<HH", rec, 20, 0x38, 0)
            struct.pack_into("<II", rec, 24, 0x100, 1024)
            struct.pack_into("<I", rec, 0x38, 0xFFFFFFFF)
            f.seek(NTFS_MFT + record * 1024)
            f.write(rec)


@needs_root
@pytest.mark.parametrize("bad", [[], [NTFS_MFT // PAGE_SIZE]], ids=["readable", "mft-unreadable"])
def test_a_probe_that_follows_the_disk_past_any_fixed_region_is_heard(
    make_faulty_device: Callable[..., str], scratch: Path, policy: Policy, bad: list[int]
) -> None:
    dev = make_faulty_device(SIZE, bad, fail="r")
    (image,) = scratch.glob("faulty-*/image")
    _ntfs(image)
    run("blockdev", "--flushbufs", dev)
    backend = BlockBackend(
        {"device": dev}, policy=policy, provisioning=True, owner=str(uuid.uuid4())
    )
    if not bad:
        with pytest.raises(UnsafeError, match=rf"^{dev} \(loop\d+\) holds data: ntfs at 0x3\."):
            backend.swapfile(True)
        return
    # wipefs lists nothing here, and exits 0.
    assert "ntfs" not in run("wipefs", "--no-act", "--json", dev).stdout
    with pytest.raises(
        UnsafeError,
        match=rf"^libblkid's probe of {dev} for filesystems, RAID members and partition "
        r"tables broke off on a read error \(Input/output error\)",
    ):
        backend.swapfile(True)
    assert backend._store is None
