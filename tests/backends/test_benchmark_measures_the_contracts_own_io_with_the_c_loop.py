"""The benchmark runs the C loop only for a plugin whose page I/O is the contract's own;
a plugin that overrides either batched method is measured through its override."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from backends import header, native, pageio
from backends.base import PAGE_SIZE
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, rebuilt

SIZE = 64 * 1024 * 1024


class OwnWritesFileBackend(FileBackend):
    """A plugin with its own writes (the file plugin's, counted)."""

    writes = 0

    def swap_out_many(self, slots: Sequence[int], data):  # type: ignore[no-untyped-def]
        type(self).writes += 1
        super().swap_out_many(slots, data)


@pytest.fixture
def made(swap_root: Path, policy: Policy) -> FileBackend:
    p = str(swap_root / "bench.swap")
    with provisioned("file", {"path": p}, size=SIZE, policy=policy, label="bench") as b:
        assert isinstance(b, FileBackend)
    with open(p, "r+b") as f:  # written once, so reads reach the disk
        f.seek(PAGE_SIZE)
        f.write(b"\x5a" * (SIZE - PAGE_SIZE))
    return b


@needs_root
def test_the_contracts_own_io_is_measured_by_the_c_loop(made: FileBackend) -> None:
    assert native.LOOP is not None, f"{native.LIBRARY} is not built: run `make venv`"
    backend = rebuilt(made)
    before = backend.swap_in(0)

    out = pageio.benchmark(backend, seconds=2, queue_depth=16, block_pages=2)

    assert out.engine == "linux-aio"
    for phase in (out.seq_write, out.seq_read, out.rand_write, out.rand_read):
        assert phase.ops > 0
        assert 0 < phase.p50_us <= phase.p99_us
        assert phase.seconds == pytest.approx(0.5, abs=0.2)
    assert out.rand_read.bytes == out.rand_read.ops * 2 * PAGE_SIZE
    assert backend.swap_in(0) == before
    assert header.read_header(backend).label == "bench"
    backend.close()


@needs_root
def test_an_override_of_the_writes_is_what_gets_measured(made: FileBackend) -> None:
    backend = OwnWritesFileBackend(
        made.params, size_bytes=SIZE, policy=made.policy, state=made.state, owner=made.owner
    )
    out = pageio.benchmark(backend, seconds=1, queue_depth=4)
    assert out.engine == "threads"
    assert OwnWritesFileBackend.writes >= out.seq_write.ops + out.rand_write.ops > 0
    assert header.read_header(backend).label == "bench"
    backend.close()
