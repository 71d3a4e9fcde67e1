"""A scan calls its progress callback on the caller's thread, never on its I/O threads.

The callback is the job's, and writes the job's row: from a pool thread it opened a database
connection in each of the scan's threads (left open when they ended) and let two threads'
reports land out of order. The first report came from a pool thread every time (the rate
limit starts at zero), so the old code fails the first assertion on any disk."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import header, pageio
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, rebuilt

SIZE = 32 * 1024 * 1024


@pytest.fixture
def backend(swap_root: Path, policy: Policy) -> Iterator[FileBackend]:
    path = str(swap_root / "threads.swap")
    b = provisioned("file", {"path": path}, size=SIZE, policy=policy, mkswap=False)
    assert isinstance(b, FileBackend)
    with b:
        header.mkswap(b, label="threads")
        b.close()
        job = rebuilt(b)
        assert isinstance(job, FileBackend)
        with job:
            yield job


@needs_root
def test_every_report_comes_from_the_thread_that_called_scan(backend: FileBackend) -> None:
    caller = threading.get_ident()
    calls: list[tuple[int, int, int]] = []

    result = pageio.scan(
        backend, progress=lambda done, total: calls.append((threading.get_ident(), done, total))
    )

    assert result.bad_pages == []
    assert {ident for ident, _, _ in calls} == {caller}
    done = [d for _, d, _ in calls]
    assert done == sorted(done)
    total = (result.pages - 1) * 4 * 2
    assert done[-1] == total
