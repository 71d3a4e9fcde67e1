"""A benchmark of an active area is refused before a byte is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import kernel, pageio
from backends.errors import ActiveAreaError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, rebuilt

SIZE = 32 * 1024 * 1024


@needs_root
def test_it_refuses_and_the_area_stays_active(swap_root: Path, policy: Policy) -> None:
    path = swap_root / "active.swap"
    with provisioned("file", {"path": str(path)}, size=SIZE, policy=policy, label="live") as made:
        pass
    before = path.read_bytes()[:4096]
    # The job that runs it is a later one, whose plugin proves the file is its own.
    backend = rebuilt(made)
    assert isinstance(backend, FileBackend)
    store = backend.open_for_swapon()
    try:
        kernel.swapon(str(path), priority=100, fd=store.fd)
    finally:
        store.close()
    try:
        with pytest.raises(ActiveAreaError, match="is active in /proc/swaps"):
            pageio.benchmark(backend, seconds=1)
        assert kernel.is_active(str(path))
        with open(path, "rb") as f:
            assert f.read(4096) == before
    finally:
        backend.close()
        kernel.swapoff(str(path), policy=policy, force=True)
