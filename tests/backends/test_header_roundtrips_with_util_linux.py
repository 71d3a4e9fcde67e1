"""Our header and util-linux's are the same bytes: blkid, swaplabel and swapon read what our
mkswap writes, and we read exactly what util-linux mkswap writes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import kernel
from backends.base import PAGE_SIZE
from backends.header import mkswap, read_header, set_badpages
from tests.fixtures.host import needs_root, run
from tests.fixtures.plain_kind import PlainFile

pytestmark = [pytest.mark.root, needs_root]


def swap_file(where: Path, pages: int = 2560, name: str = "area") -> Path:
    """A root-only file with every block allocated, as swapon insists."""
    path = where / name
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, pages * PAGE_SIZE)
    finally:
        os.close(fd)
    return path


def plain(path: Path, *, take: bool = True) -> PlainFile:
    """The plugin on ``path``: by default as a provision leaves it, having taken the store
    (so its header may be written); with ``take=False`` as any other job, which may read."""
    backend = PlainFile({"path": str(path)}, provisioning=take, owner=str(uuid.uuid4()))
    backend.swapfile(True)
    return backend


@pytest.fixture
def area(swap_root: Path) -> Iterator[Path]:
    path = swap_file(swap_root)
    try:
        yield path
    finally:
        run("swapoff", str(path), check=False)


def blkid(path: Path) -> dict[str, str]:
    out = run("blkid", "-p", "-o", "export", str(path)).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_it_writes_what_blkid_reads_back(area: Path) -> None:
    u = uuid.uuid4()
    with plain(area) as backend:
        mkswap(backend, label="sixteen-bytes-ok", uuid=u)
    probed = blkid(area)
    assert probed["TYPE"] == "swap"
    assert probed["VERSION"] == "1"
    assert probed["LABEL"] == "sixteen-bytes-ok"
    assert probed["UUID"] == str(u)


def test_it_writes_what_swaplabel_reads_back(area: Path) -> None:
    u = uuid.uuid4()
    with plain(area) as backend:
        mkswap(backend, label="ours", uuid=u)
    out = run("swaplabel", str(area)).stdout.split()
    assert out == ["LABEL:", "ours", "UUID:", str(u)]


def test_it_writes_what_swapon_accepts_at_full_size(area: Path) -> None:
    with plain(area) as backend:
        hdr = mkswap(backend, label="on")
    assert hdr.last_page == 2559
    run("swapon", str(area))
    try:
        found = kernel.find_area(str(area))
        assert found is not None
        # The kernel's count: every page but the header.
        assert found.size_bytes == 2559 * PAGE_SIZE
    finally:
        run("swapoff", str(area))


def test_it_writes_bad_pages_the_kernel_leaves_out(loop_device: str) -> None:
    # Only a block device: the kernel refuses a bad-page list on a regular file.
    with plain(Path(loop_device)) as backend:
        hdr = mkswap(backend, label="bad", badpages=(5, 77, 16383))
    assert hdr.last_page == 16383
    run("swapon", loop_device)
    try:
        found = kernel.find_area(loop_device)
        assert found is not None
        assert found.size_bytes == (16383 - 3) * PAGE_SIZE
    finally:
        run("swapoff", loop_device)


def test_it_reads_exactly_what_util_linux_mkswap_writes(area: Path) -> None:
    u = uuid.uuid4()
    run("mkswap", "-L", "theirs", "-U", str(u), str(area))
    with plain(area, take=False) as backend:
        hdr = read_header(backend)
    assert hdr.to_dict() == {
        "version": 1,
        "page_size": PAGE_SIZE,
        "last_page": 2559,
        "nr_badpages": 0,
        "badpages": [],
        "uuid": str(u),
        "label": "theirs",
    }


def test_it_reads_a_header_while_the_area_is_active(area: Path) -> None:
    u = uuid.uuid4()
    run("mkswap", "-L", "live", "-U", str(u), str(area))
    run("swapon", str(area))
    try:
        with plain(area, take=False) as backend:
            hdr = read_header(backend)
        assert (hdr.label, hdr.uuid) == ("live", u)
        assert kernel.is_active(str(area))
    finally:
        run("swapoff", str(area))


def test_it_sets_bad_pages_on_a_util_linux_area_keeping_its_identity(loop_device: str) -> None:
    u = uuid.uuid4()
    run("mkswap", "-L", "keepme", "-U", str(u), loop_device)
    before = read_page0(loop_device)
    with plain(Path(loop_device)) as backend:
        hdr = set_badpages(backend, [9, 10, 11])
        assert read_header(backend) == hdr
    after = read_page0(loop_device)
    assert (hdr.label, hdr.uuid, hdr.badpages) == ("keepme", u, (9, 10, 11))
    # Only the count and the list changed.
    changed = [i for i in range(PAGE_SIZE) if before[i] != after[i]]
    assert changed and all(1032 <= i < 1036 or 1536 <= i < 1548 for i in changed)
    assert blkid(Path(loop_device))["UUID"] == str(u)
    run("swapon", loop_device)
    try:
        found = kernel.find_area(loop_device)
        assert found is not None and found.size_bytes == (16383 - 3) * PAGE_SIZE
    finally:
        run("swapoff", loop_device)


def read_page0(path: str) -> bytes:
    # O_DIRECT, so what the device holds is compared, not a stale cached copy.
    with plain(Path(path), take=False) as backend:
        return backend.swap_in(0)
