"""A scan of a healthy swap file finds no bad pages, keeps the header and really writes.

The provision takes and formats the file; the scan is a later job's, whose plugin is
rebuilt from the saved state and writes only once the file proves to be the one formatted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import header, pageio
from backends.base import PAGE_SIZE
from backends.errors import HeaderError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, rebuilt

SIZE = 64 * 1024 * 1024


@pytest.fixture
def backend(swap_root: Path, policy: Policy) -> Iterator[FileBackend]:
    """The provision's plugin: it took the file; each test formats it as it needs."""
    path = str(swap_root / "scan.swap")
    b = provisioned("file", {"path": path}, size=SIZE, policy=policy, mkswap=False)
    assert isinstance(b, FileBackend)
    with b:
        yield b


def later(backend: FileBackend) -> FileBackend:
    """The scan job's plugin, rebuilt from what the provision saved."""
    backend.close()
    b = rebuilt(backend)
    assert isinstance(b, FileBackend)
    return b


@needs_root
def test_it_finds_no_bad_pages_and_keeps_label_and_uuid(backend: FileBackend) -> None:
    wanted = uuid.uuid4()
    header.mkswap(backend, label="scanned", uuid=wanted)
    calls: list[tuple[int, int]] = []

    job = later(backend)
    result = pageio.scan(job, progress=lambda done, total: calls.append((done, total)))

    assert result.bad_pages == []
    assert result.pages == SIZE // PAGE_SIZE
    assert result.bytes_written == result.bytes_read == (result.pages - 1) * 4 * PAGE_SIZE
    hdr = header.read_header(job)
    assert (hdr.label, hdr.uuid, hdr.badpages) == ("scanned", wanted, ())
    total = (result.pages - 1) * 4 * 2
    assert calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert all(t == total for _, t in calls)


@needs_root
def test_it_leaves_the_last_pattern_in_every_data_page(backend: FileBackend) -> None:
    header.mkswap(backend)
    with later(backend) as job:
        pageio.scan(job, patterns=2)  # 0xaa then 0x55
    with open(backend.swap_path, "rb") as f:
        data = f.read()
    assert data[PAGE_SIZE:] == b"\x55" * (SIZE - PAGE_SIZE)


@needs_root
def test_it_stops_when_cancelled_without_touching_the_header(backend: FileBackend) -> None:
    header.mkswap(backend, label="cancel")
    before = backend.swap_in(0)
    polls = iter([False, False, True])
    with later(backend) as job:
        with pytest.raises(pageio.PageIOCancelled, match="header was not changed"):
            pageio.scan(job, cancel=lambda: next(polls, True))
        assert job.swap_in(0) == before


@needs_root
def test_it_refuses_an_area_without_a_header_before_writing(backend: FileBackend) -> None:
    with open(backend.swap_path, "r+b") as f:
        f.write(b"\x11" * PAGE_SIZE * 3)
    with pytest.raises(HeaderError):
        pageio.scan(backend)
    with open(backend.swap_path, "rb") as f:
        assert f.read(PAGE_SIZE * 3) == b"\x11" * PAGE_SIZE * 3


@needs_root
def test_it_rejects_more_patterns_than_it_has(backend: FileBackend) -> None:
    header.mkswap(backend)
    with later(backend) as job, pytest.raises(pageio.ValidationError, match="1 to 4 patterns"):
        pageio.scan(job, patterns=5)
