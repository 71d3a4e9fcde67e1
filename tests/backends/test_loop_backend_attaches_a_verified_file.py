"""The loop kind attaches its verified swap file to a free loop device with direct I/O,
the kernel swaps on that device, and disabling detaches it (never while active)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import kernel
from backends.base import PAGE_SIZE
from backends.errors import ActiveAreaError, KernelError
from backends.plugins.loop import LoopBackend
from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root, run

MiB = 1024 * 1024


def _loop(swap_root: Path, policy: Policy, state: dict[str, str] | None = None) -> LoopBackend:
    return LoopBackend(
        {"path": str(swap_root / "swap0")}, size_bytes=8 * MiB, policy=policy, state=state
    )


@needs_root
def test_it_attaches_swaps_and_detaches(swap_root: Path, policy: Policy) -> None:
    backend = _loop(swap_root, policy)
    backend.swapfile(True)
    dev = backend.state["device"]
    assert dev.startswith("/dev/loop") and backend.swap_path == dev == backend.io_path()
    assert attached_loops()[dev] == str(swap_root / "swap0")
    info = backend.describe()
    assert info["attached"] and info["direct_io"] and info["extents"] >= 1
    assert backend.capacity_bytes() == 8 * MiB

    run("mkswap", "-q", dev)
    kernel.swapon(dev)
    try:
        assert kernel.is_active(dev)
        with pytest.raises(ActiveAreaError, match=f"{dev} is active in /proc/swaps; deactivate"):
            backend.swapfile(False)
        assert attached_loops().get(dev) == str(swap_root / "swap0") and kernel.is_active(dev)
    finally:
        run("swapoff", dev)

    backend.swapfile(False)
    assert dev not in attached_loops() and backend.state == {}
    backend.swapfile(False)  # already released is fine
    backend.remove()
    assert not (swap_root / "swap0").exists()


@needs_root
def test_it_reuses_its_device(swap_root: Path, policy: Policy) -> None:
    first = _loop(swap_root, policy)
    first.swapfile(True)
    dev = first.state["device"]
    try:
        first.swapfile(True)
        _loop(swap_root, policy, state={"device": dev}).swapfile(True)
        # State lost in a crash after attaching: the device backing our file is found again.
        again = _loop(swap_root, policy)
        again.swapfile(True)
        assert again.state["device"] == dev
        assert [d for d, f in attached_loops().items() if f == str(swap_root / "swap0")] == [dev]
    finally:
        first.swapfile(False)


@needs_root
def test_it_refuses_to_remove_an_attached_file(swap_root: Path, policy: Policy) -> None:
    backend = _loop(swap_root, policy)
    backend.swapfile(True)
    try:
        with pytest.raises(ActiveAreaError, match="is still attached to /dev/loop"):
            backend.remove()
        assert (swap_root / "swap0").exists()
    finally:
        backend.swapfile(False)


@needs_root
def test_it_resizes_the_attached_device(swap_root: Path, policy: Policy) -> None:
    backend = _loop(swap_root, policy)
    backend.swapfile(True)
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
    backend = _loop(swap_root, policy)
    backend.swapfile(True)
    dev = backend.swap_path
    try:
        run("mkswap", "-q", dev)
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
