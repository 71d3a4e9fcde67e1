"""remove() and resize() refuse an active swap file and leave it active and unchanged;
inactive, they delete, grow and shrink it, and the result is verified again. The file is
provisioned by one plugin and removed or resized by a later job's, rebuilt from the state."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from backends import header, kernel
from backends.errors import ActiveAreaError, BackendError, ValidationError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run
from tests.fixtures.stores import provisioned, rebuilt

MiB = 1024 * 1024


def _made(swap_root: Path, policy: Policy, size: int = 4 * MiB) -> FileBackend:
    """Provisioned and formatted; returns the plugin of a later job on it."""
    path = str(swap_root / "swap0")
    with provisioned("file", {"path": path}, size=size, policy=policy) as made:
        pass
    backend = rebuilt(made)
    assert isinstance(backend, FileBackend)
    return backend


def _swapon(backend: FileBackend) -> None:
    store = backend.open_for_swapon()
    try:
        kernel.swapon(backend.swap_path, fd=store.fd)
    finally:
        store.close()


@needs_root
def test_it_refuses_while_active(swap_root: Path, policy: Policy) -> None:
    backend = _made(swap_root, policy)
    path = Path(backend.swap_path)
    _swapon(backend)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        with pytest.raises(
            ActiveAreaError, match="active in /proc/swaps; deactivate it before you remove it"
        ):
            backend.remove()
        with pytest.raises(ActiveAreaError, match="before you resize it"):
            backend.resize(8 * MiB)
        assert kernel.is_active(str(path))
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
        assert path.stat().st_size == 4 * MiB
    finally:
        run("swapoff", str(path))


@needs_root
def test_it_removes_an_inactive_file(swap_root: Path, policy: Policy) -> None:
    backend = _made(swap_root, policy)
    backend.remove()
    assert not Path(backend.swap_path).exists()
    backend.remove()  # already gone is fine
    with pytest.raises(BackendError, match="does not exist; enable it first"):
        backend.capacity_bytes()


@needs_root
@pytest.mark.parametrize("new_size", [12 * MiB, 2 * MiB])
def test_it_grows_and_shrinks(swap_root: Path, policy: Policy, new_size: int) -> None:
    backend = _made(swap_root, policy)
    backend.resize(new_size)
    assert backend.capacity_bytes() == new_size == backend.size_bytes
    assert backend.describe()["problems"] == []
    header.mkswap(backend)  # the header is stale after a resize
    backend.close()
    backend.swapfile(True)  # the file now matches the asked size, and is proven ours
    _swapon(backend)
    run("swapoff", backend.swap_path)


@needs_root
def test_it_refuses_a_size_below_ten_pages(swap_root: Path, policy: Policy) -> None:
    backend = _made(swap_root, policy)
    with pytest.raises(ValidationError, match="at least 10 pages"):
        backend.resize(4096)
    assert backend.capacity_bytes() == 4 * MiB
