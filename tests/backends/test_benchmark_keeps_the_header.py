"""A benchmark measures all four phases and leaves the header as it found it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from backends import header, pageio
from backends.base import PAGE_SIZE
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, rebuilt

SIZE = 64 * 1024 * 1024
KEYS = (
    "rand_read_iops", "rand_write_iops", "seq_read_mb_s", "seq_write_mb_s",
    "rand_read_p50_us", "rand_read_p99_us", "rand_write_p50_us", "rand_write_p99_us",
)  # fmt: skip


class OwnIoFileBackend(FileBackend):
    """A plugin that does its own page I/O (here: the file plugin's, counted), so the
    benchmark must go through its methods rather than around them."""

    reads = 0

    def swap_in_many(self, slots: Sequence[int], into=None):  # type: ignore[no-untyped-def]
        type(self).reads += 1
        return super().swap_in_many(slots, into)


@pytest.fixture
def made(swap_root: Path, policy: Policy) -> FileBackend:
    """The provision's plugin, after it took and formatted the file."""
    p = str(swap_root / "bench.swap")
    with provisioned("file", {"path": p}, size=SIZE, policy=policy, label="bench") as b:
        assert isinstance(b, FileBackend)
    with open(p, "r+b") as f:  # written once, so reads reach the disk
        f.seek(PAGE_SIZE)
        f.write(b"\x5a" * (SIZE - PAGE_SIZE))
    return b


@needs_root
def test_it_reports_every_phase_and_keeps_page_0(made: FileBackend) -> None:
    backend = rebuilt(made)  # the benchmark job, later
    before = backend.swap_in(0)
    calls: list[tuple[int, int]] = []

    out = pageio.benchmark(backend, seconds=2, progress=lambda d, t: calls.append((d, t)))

    report = out.to_dict()
    for key in KEYS:
        assert report[key] > 0, key
    assert report["rand_read_p99_us"] >= report["rand_read_p50_us"]
    assert backend.swap_in(0) == before
    assert header.read_header(backend).label == "bench"
    assert calls[-1] == (2000, 2000)
    backend.close()


@needs_root
def test_it_uses_the_plugins_own_io_when_it_has_one(made: FileBackend) -> None:
    backend = OwnIoFileBackend(
        made.params, size_bytes=SIZE, policy=made.policy, state=made.state, owner=made.owner
    )
    out = pageio.benchmark(backend, seconds=1, queue_depth=4)
    assert out.engine == "threads"
    assert out.rand_read.ops > 0 and out.rand_write.ops > 0
    assert OwnIoFileBackend.reads >= out.rand_read.ops
    assert header.read_header(backend).label == "bench"
    backend.close()
