"""A scan of a healthy swap file finds no bad pages, keeps the header and really writes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends import header, pageio
from backends.base import PAGE_SIZE
from backends.errors import HeaderError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root

SIZE = 64 * 1024 * 1024


@pytest.fixture
def backend(swap_root: Path, policy: Policy) -> FileBackend:
    b = FileBackend({"path": str(swap_root / "scan.swap")}, size_bytes=SIZE, policy=policy)
    b.swapfile(True)
    return b


@needs_root
def test_it_finds_no_bad_pages_and_keeps_label_and_uuid(backend: FileBackend) -> None:
    wanted = uuid.uuid4()
    header.mkswap(backend, label="scanned", uuid=wanted)
    calls: list[tuple[int, int]] = []

    result = pageio.scan(backend, progress=lambda done, total: calls.append((done, total)))

    assert result.bad_pages == []
    assert result.pages == SIZE // PAGE_SIZE
    assert result.bytes_written == result.bytes_read == (result.pages - 1) * 4 * PAGE_SIZE
    hdr = header.read_header(backend)
    assert (hdr.label, hdr.uuid, hdr.badpages) == ("scanned", wanted, ())
    total = (result.pages - 1) * 4 * 2
    assert calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert all(t == total for _, t in calls)


@needs_root
def test_it_leaves_the_last_pattern_in_every_data_page(backend: FileBackend) -> None:
    header.mkswap(backend)
    pageio.scan(backend, patterns=2)  # 0xaa then 0x55
    with open(backend.swap_path, "rb") as f:
        data = f.read()
    assert data[PAGE_SIZE:] == b"\x55" * (SIZE - PAGE_SIZE)


@needs_root
def test_it_stops_when_cancelled_without_touching_the_header(backend: FileBackend) -> None:
    header.mkswap(backend, label="cancel")
    before = backend.swap_in(0)
    polls = iter([False, False, True])
    with pytest.raises(pageio.ScanCancelled, match="header was not changed"):
        pageio.scan(backend, cancel=lambda: next(polls, True))
    assert backend.swap_in(0) == before


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
    with pytest.raises(pageio.ValidationError, match="1 to 4 patterns"):
        pageio.scan(backend, patterns=5)
