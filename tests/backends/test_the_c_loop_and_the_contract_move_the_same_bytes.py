"""The benchmark's C loop (backends/native) and the contract's own I/O agree byte for byte:
what one writes at a slot, the other reads back from that slot, and the C loop touches
only the slots it was sent to, never the header."""

from __future__ import annotations

import ctypes
import mmap
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import native
from backends.base import PAGE_SIZE, SwapBackend, aligned_buffer
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, rebuilt

SIZE = 8 * 1024 * 1024
PAGES = SIZE // PAGE_SIZE
FILL = b"\x5a" * PAGE_SIZE


@pytest.fixture
def loop() -> native.AioLoop:
    assert native.LOOP is not None, f"{native.LIBRARY} is not built: run `make venv`"
    return native.LOOP


@pytest.fixture
def backend(swap_root: Path, policy: Policy) -> Iterator[SwapBackend]:
    """A provisioned, formatted file whose other pages all hold FILL, as a later job
    builds it."""
    p = str(swap_root / "loop.swap")
    with provisioned("file", {"path": p}, size=SIZE, policy=policy, label="loop") as made:
        pass
    with open(p, "r+b") as f:
        f.seek(PAGE_SIZE)
        f.write(FILL * (PAGES - 1))
    b = rebuilt(made)
    yield b
    b.close()


def distinct_pages(count: int) -> bytes:
    return b"".join(bytes([0x10 + i]) * 64 + os.urandom(PAGE_SIZE - 64) for i in range(count))


def run(
    loop: native.AioLoop, backend: SwapBackend, buf: mmap.mmap, *, write: bool, **kw: Any
) -> native.LoopResult:
    """One run of the loop on the backend's own proven descriptor, into or out of ``buf``."""
    cbuf = (ctypes.c_char * len(buf)).from_buffer(buf)
    try:
        return loop.run(
            fd=backend.descriptor(write), write=write, page_size=PAGE_SIZE, seconds=10,
            buffers=cbuf, **kw,
        )  # fmt: skip
    finally:
        del cbuf


@needs_root
def test_what_the_loop_writes_the_contract_reads(
    loop: native.AioLoop, backend: SwapBackend
) -> None:
    header = backend.swap_in(0)
    data = distinct_pages(4)
    buf = aligned_buffer(4)
    buf.write(data)

    got = run(loop, backend, buf, write=True, sequential=True, first=1, runs=PAGES - 1,
              run_pages=1, depth=4, max_ops=4)  # fmt: skip

    assert (got.error, got.ops) == (0, 4)
    assert sum(got.histogram) == 4
    assert bytes(backend.swap_in_many(range(1, 5))) == data
    assert backend.swap_in(0) == header
    assert bytes(backend.swap_in_many(range(5, PAGES))) == FILL * (PAGES - 5)


@needs_root
def test_what_the_contract_writes_the_loop_reads(
    loop: native.AioLoop, backend: SwapBackend
) -> None:
    data = distinct_pages(8)
    backend.swap_out_many(range(9, 17), data)
    buf = aligned_buffer(8)

    # Runs of two pages from slot 9: the four requests read slots 9-10, 11-12, 13-14, 15-16.
    got = run(loop, backend, buf, write=False, sequential=True, first=9, runs=4,
              run_pages=2, depth=4, max_ops=4)  # fmt: skip

    assert (got.error, got.ops) == (0, 4)
    assert bytes(buf) == data


@needs_root
def test_random_writes_land_on_aligned_runs_and_never_on_the_header(
    loop: native.AioLoop, backend: SwapBackend
) -> None:
    header = backend.swap_in(0)
    run_pages, depth, requests = 2, 8, 200
    data = distinct_pages(run_pages * depth)
    buf = aligned_buffer(run_pages * depth)
    buf.write(data)
    runs = (PAGES - 1) // run_pages

    got = run(loop, backend, buf, write=True, sequential=False, first=1, runs=runs,
              run_pages=run_pages, depth=depth, max_ops=requests)  # fmt: skip

    assert (got.error, got.ops) == (0, requests)
    assert backend.swap_in(0) == header
    requests_written = {data[i : i + run_pages * PAGE_SIZE]
                        for i in range(0, len(data), run_pages * PAGE_SIZE)}  # fmt: skip
    after = bytes(backend.swap_in_many(range(PAGES)))
    changed = 0
    for start in range(1, 1 + runs * run_pages, run_pages):
        pages = after[start * PAGE_SIZE : (start + run_pages) * PAGE_SIZE]
        if pages != FILL * run_pages:
            assert pages in requests_written, f"slots {start}.. hold bytes no request carried"
            changed += 1
    assert 0 < changed <= requests
    tail = after[(1 + runs * run_pages) * PAGE_SIZE :]
    assert tail == FILL * (PAGES - 1 - runs * run_pages)
