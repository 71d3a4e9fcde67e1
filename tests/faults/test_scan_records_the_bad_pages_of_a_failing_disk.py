"""A block device with real bad pages, scanned through the block backend: the scan finds
exactly the failing pages, records them in the swap header, keeps the label and UUID, and
util-linux swapon then accepts the area with those pages left out of its size."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends import SwapBackend, header, kernel, pageio
from backends.base import PAGE_SIZE
from backends.policy import Policy
from tests.fixtures.faulty import faulty_device
from tests.fixtures.host import needs_root, run
from tests.fixtures.stores import provisioned, rebuilt

PAGES = 2048
# A run inside one scan batch (256 pages), one across a batch boundary, one alone, the last.
BAD = [100, 101, 102, 103, 255, 256, 257, 700, PAGES - 1]
LABEL_UUID = uuid.UUID("0f0f0f0f-1111-4222-8333-444455556666")


def _scanned(dev: str, policy: Policy) -> tuple[SwapBackend, pageio.ScanResult]:
    """Provision the device as a provision job does, then scan it with the plugin a later
    scan job builds, which writes only to the store it proves to be its own. Forced, as a
    person confirms it: pages that fail reads lie where libblkid looks for filesystems, so
    what the device holds cannot be known (tests/backends/
    test_a_device_whose_probed_sectors_cannot_be_read_is_never_formatted.py)."""
    with provisioned(
        "block",
        {"device": dev},
        size=None,
        policy=policy,
        label="faulty",
        swap_uuid=LABEL_UUID,
        force=True,
    ) as made:
        assert made.record["uuid"] == str(LABEL_UUID)
    backend = rebuilt(made)
    return backend, pageio.scan(backend)


@needs_root
@pytest.mark.parametrize("fail", ["rw", "r", "w"], ids=["reads-and-writes", "reads", "writes"])
def test_it_finds_and_records_exactly_the_bad_pages(
    scratch: Path, policy: Policy, fail: str
) -> None:
    with faulty_device(scratch, PAGES * PAGE_SIZE, BAD, fail=fail) as dev:
        backend, result = _scanned(dev, policy)
        with backend:
            assert result.bad_pages == BAD
            assert result.pages == PAGES
            hdr = header.read_header(backend)
            assert hdr.badpages == tuple(BAD)
            assert (hdr.label, hdr.uuid, hdr.last_page) == ("faulty", LABEL_UUID, PAGES - 1)


@needs_root
def test_swapon_accepts_the_area_without_its_bad_pages(scratch: Path, policy: Policy) -> None:
    with faulty_device(scratch, PAGES * PAGE_SIZE, BAD) as dev:
        backend, _ = _scanned(dev, policy)
        backend.close()
        try:
            run("swapon", dev)
            area = kernel.find_area(dev)
            assert area is not None
            # The kernel leaves out the header page and every listed bad page.
            assert area.size_bytes == (PAGES - 1 - len(BAD)) * PAGE_SIZE
        finally:
            run("swapoff", dev, check=False)


@needs_root
def test_the_device_is_taken_down_even_while_swap_is_on(scratch: Path, policy: Policy) -> None:
    with faulty_device(scratch, PAGES * PAGE_SIZE, BAD) as dev:
        backend, _ = _scanned(dev, policy)
        backend.close()
        run("swapon", dev)
    assert not kernel.is_active(dev)
