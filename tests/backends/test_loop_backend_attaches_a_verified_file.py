"""The loop kind attaches its verified swap file to a free loop device with direct I/O,
the kernel swaps on that device, and disabling detaches it (never while active). The
provision makes, attaches and formats; later jobs rebuild the plugin from its state."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends import header, kernel
from backends.base import PAGE_SIZE
from backends.errors import ActiveAreaError, KernelError
from backends.plugins.loop import LoopBackend
from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root, run
from tests.fixtures.stores import made_loop, rebuilt_loop

MiB = 1024 * 1024


def _loop(
    swap_root: Path, policy: Policy, owner: str, *, state: dict[str, object] | None = None
) -> LoopBackend:
    """The plugin of a provision job for the backend ``owner``."""
    return LoopBackend(
        {"path": str(swap_root / "swap0")},
        size_bytes=8 * MiB,
        policy=policy,
        state=state,
        provisioning=True,
        owner=owner,
    )


def _swapon(backend: LoopBackend) -> None:
    store = backend.open_for_swapon()
    try:
        kernel.swapon(backend.swap_path, fd=store.fd)
    finally:
        store.close()


@needs_root
def test_it_attaches_swaps_and_detaches(swap_root: Path, policy: Policy) -> None:
    backend = _loop(swap_root, policy, str(uuid.uuid4()))
    backend.swapfile(True)
    dev = backend.state["device"]
    assert dev.startswith("/dev/loop") and backend.swap_path == dev == backend.io_path()
    assert attached_loops()[dev] == str(swap_root / "swap0")
    info = backend.describe()
    assert info["attached"] and info["direct_io"] and info["extents"] >= 1
    assert backend.capacity_bytes() == 8 * MiB
    header.mkswap(backend)
    backend.close()

    later = rebuilt_loop(backend)
    _swapon(later)
    try:
        assert kernel.is_active(dev)
        with pytest.raises(ActiveAreaError, match=f"{dev} is active in /proc/swaps; deactivate"):
            later.swapfile(False)
        assert attached_loops().get(dev) == str(swap_root / "swap0") and kernel.is_active(dev)
    finally:
        run("swapoff", dev)

    later.swapfile(False)
    assert dev not in attached_loops() and "device" not in later.state
    later.swapfile(False)  # already released is fine
    assert later.remove() is True
    assert not (swap_root / "swap0").exists()


@needs_root
def test_it_reuses_its_device(swap_root: Path, policy: Policy) -> None:
    first = made_loop(swap_root, policy)
    dev = first.state["device"]
    try:
        first.swapfile(True)
        rebuilt_loop(first).swapfile(True)  # a later job verifies and reuses it
        assert first.state["device"] == dev
        # State lost in a crash after attaching: provisioning again finds the device
        # backing our file.
        assert first.owner is not None
        again = _loop(swap_root, policy, first.owner)
        again.swapfile(True)
        assert again.state["device"] == dev
        assert [d for d, f in attached_loops().items() if f == str(swap_root / "swap0")] == [dev]
    finally:
        first.swapfile(False)
    assert dev not in attached_loops()


@needs_root
def test_it_refuses_to_remove_an_attached_file(swap_root: Path, policy: Policy) -> None:
    made = made_loop(swap_root, policy)
    try:
        with pytest.raises(ActiveAreaError, match="is still attached to /dev/loop"):
            rebuilt_loop(made).remove()
        assert (swap_root / "swap0").exists()
    finally:
        made.swapfile(False)


@needs_root
def test_it_resizes_the_attached_device(swap_root: Path, policy: Policy) -> None:
    made = made_loop(swap_root, policy)
    backend = rebuilt_loop(made)  # the resize job
    try:
        backend.resize(16 * MiB)
        assert backend.capacity_bytes() == 16 * MiB
        assert int(run("blockdev", "--getsize64", backend.swap_path).stdout) == 16 * MiB
    finally:
        backend.swapfile(False)


@needs_root
def test_no_swapon_while_it_writes_to_the_device(swap_root: Path, policy: Policy) -> None:
    # The active check runs when the write descriptor is opened; holding the device
    # exclusively keeps a swapon by hand from slipping in during a long scan or benchmark.
    backend = rebuilt_loop(made_loop(swap_root, policy))
    dev = backend.swap_path
    try:
        backend.swap_out(1, bytes(PAGE_SIZE))
        with pytest.raises(KernelError):
            kernel.swapon(dev)
        assert not kernel.is_active(dev)
        backend.close()
    finally:
        if kernel.is_active(dev):
            run("swapoff", dev)
        backend.close()
        backend.swapfile(False)
