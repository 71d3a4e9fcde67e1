"""A request the kernel fails or cuts short stops the C loop with its offset and result,
after the requests still in flight have completed; bad arguments are refused before any
request is sent."""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

import pytest

from backends import native
from backends.base import PAGE_SIZE, aligned_buffer

PAGES = 16


@pytest.fixture
def loop() -> native.AioLoop:
    assert native.LOOP is not None, f"{native.LIBRARY} is not built: run `make venv`"
    return native.LOOP


@pytest.fixture
def plain_file(scratch: Path) -> Path:
    p = scratch / "plain"
    p.write_bytes(b"\x33" * PAGES * PAGE_SIZE)
    return p


def run(loop: native.AioLoop, fd: int, *, write: bool, **kw: int) -> native.LoopResult:
    buf = aligned_buffer(4)
    cbuf = (ctypes.c_char * len(buf)).from_buffer(buf)
    try:
        return loop.run(
            fd=fd, write=write, sequential=True, run_pages=1, page_size=PAGE_SIZE, depth=4,
            seconds=10, buffers=cbuf, **kw,
        )  # fmt: skip
    finally:
        del cbuf


def test_a_read_past_the_end_is_a_short_request_at_its_offset(
    loop: native.AioLoop, plain_file: Path
) -> None:
    fd = os.open(plain_file, os.O_RDONLY | os.O_DIRECT)
    try:
        # Slots 14, 15, then 16: the file ends before the third request's page.
        got = run(loop, fd, write=False, first=14, runs=3, max_ops=3)
    finally:
        os.close(fd)
    assert got.error == errno.EIO
    assert (got.fail_offset, got.fail_res) == (16 * PAGE_SIZE, 0)
    assert got.ops == 2


def test_a_write_on_a_read_only_descriptor_is_refused_and_writes_nothing(
    loop: native.AioLoop, plain_file: Path
) -> None:
    fd = os.open(plain_file, os.O_RDONLY | os.O_DIRECT)
    try:
        got = run(loop, fd, write=True, first=1, runs=PAGES - 1, max_ops=4)
    finally:
        os.close(fd)
    assert got.error == errno.EBADF
    assert got.ops == 0
    assert plain_file.read_bytes() == b"\x33" * PAGES * PAGE_SIZE


def test_it_refuses_to_start_at_the_header_slot(loop: native.AioLoop, plain_file: Path) -> None:
    with pytest.raises(ValueError, match="slot 0 is the header"):
        run(loop, -1, write=True, first=0, runs=PAGES)
    with pytest.raises(ValueError, match="depth must be 1 to 256"):
        loop.run(
            fd=-1, write=True, sequential=True, first=1, runs=1, run_pages=1,
            page_size=PAGE_SIZE, depth=0, seconds=1, buffers=(ctypes.c_char * PAGE_SIZE)(),
        )  # fmt: skip
