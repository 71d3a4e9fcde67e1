"""A device that cannot be read where libblkid looks is not a device that holds nothing.

wipefs that opens a device but meets a read error ends libblkid's probe loop and exits 0
with a short or empty listing (review 148/1): the block kind's "holds data" check then saw
nothing on a disk holding ext4, and formatted it. The listing that gates a write is now
bracketed by reads, through the store's own descriptor, of every region libblkid probes;
a region that fails is a refusal that only force overrides.

The device is real: a loop device over a FUSE file whose chosen pages fail reads with EIO
(``tests/faults/faultyfs.c``). Its ext4 is written into the file the FUSE server serves,
so only the device's reads fail, as on a disk with a bad sector.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
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
        match=rf"^{dev} cannot be read at bytes 0x0-0x100000 \(Input/output error\), where "
        r"libblkid looks .* what it holds is not known. Confirm with force",
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
        rf"^{dev} cannot be read at bytes (0x[0-9a-f]+)-(0x[0-9a-f]+) ", str(refused.value)
    )
    assert named is not None, refused.value
    start, end = (int(x, 16) for x in named.groups())
    assert start <= (PAGES - 1) * PAGE_SIZE < end == SIZE


@needs_root
def test_a_bad_page_where_libblkid_does_not_look_is_no_refusal(
    make_faulty_device: Callable[..., str], scratch: Path
) -> None:
    # Mid-device, outside both probed regions: a failing page there hides no signature,
    # and a disk a scan found bad pages on stays usable once it holds nothing.
    dev, _ = _ext4_device(make_faulty_device, scratch, [PAGES // 2])
    fd = os.open(dev, os.O_RDONLY | os.O_CLOEXEC)
    try:
        found = wipefs.signatures_read_whole(fd, dev)
    finally:
        os.close(fd)
    assert [(s.type, s.label) for s in found] == [("ext4", "precious")]


@pytest.mark.parametrize(
    ("size", "regions"),
    [
        (0, []),
        (PAGE_SIZE, [(0, PAGE_SIZE)]),
        (16 << 20, [(0, 16 << 20)]),
        ((16 << 20) + 512, [(0, (16 << 20) + 512)]),
        (1 << 30, [(0, 8 << 20), ((1 << 30) - (8 << 20), 1 << 30)]),
        ((1 << 30) + 512, [(0, 8 << 20), ((1 << 30) - (8 << 20), (1 << 30) + 512)]),
    ],
)
def test_the_regions_read_cover_both_ends(size: int, regions: list[tuple[int, int]]) -> None:
    assert wipefs._probed_regions(size) == regions
