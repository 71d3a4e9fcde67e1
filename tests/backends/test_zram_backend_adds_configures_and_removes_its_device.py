"""The zram kind hot_adds a device of its own, configures it, swaps on it, and gives it
back with reset + hot_remove; never while active. The provision adds and formats the
device; later jobs (activate, resize, destroy) rebuild the plugin from its state."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends import header, kernel
from backends.errors import ActiveAreaError, UnsafeError
from backends.plugins.zram import ZramBackend, algorithms
from backends.policy import Policy
from tests.fixtures.host import all_zram, needs_root, run, zram_ledger
from tests.fixtures.stores import rebuilt

MiB = 1024 * 1024


def _sys(dev: str, attr: str) -> str:
    return (Path("/sys/block") / Path(dev).name / attr).read_text().strip()


def _forgotten(backend: ZramBackend) -> bool:
    """Nothing of a device is left in the state: no number, boot, identity nor UUID."""
    return set(backend.state) <= {"store"} and backend.record == {}


def _later(backend: ZramBackend) -> ZramBackend:
    backend.close()
    later = rebuilt(backend)
    assert isinstance(later, ZramBackend)
    return later


def _swapon(backend: ZramBackend) -> None:
    store = backend.open_for_swapon()
    try:
        kernel.swapon(backend.swap_path, fd=store.fd)
    finally:
        store.close()


@needs_root
@pytest.mark.usefixtures("zram_cleanup")
def test_it_swaps_on_a_fresh_device(policy: Policy) -> None:
    before = all_zram()
    backend = ZramBackend(
        {"algorithm": "lz4", "mem_limit_bytes": 16 * MiB},
        size_bytes=32 * MiB,
        policy=policy,
        provisioning=True,
        owner=str(uuid.uuid4()),
    )
    backend.swapfile(True)
    dev = backend.state["device"]
    assert dev not in before and all_zram() == before | {dev}
    # Noted in the test session's ledger, with its disk sequence number: the harness takes
    # down only devices listed there (tests/fixtures/host.py).
    assert (dev, _sys(dev, "diskseq")) in zram_ledger()
    assert int(_sys(dev, "disksize")) == 32 * MiB == backend.capacity_bytes()
    assert algorithms(Path(dev).name)[1] == "lz4"
    header.mkswap(backend)

    later = _later(backend)
    _swapon(later)
    try:
        info = later.describe()
        assert info["algorithm"] == "lz4" and info["mem_limit_bytes"] == 16 * MiB
        assert info["orig_data_size"] >= 0 and "compression_ratio" in info
        with pytest.raises(ActiveAreaError, match=f"{dev} is active in /proc/swaps"):
            later.swapfile(False)
        with pytest.raises(ActiveAreaError, match="deactivate it first"):
            later.resize(64 * MiB)
        assert kernel.is_active(dev) and int(_sys(dev, "disksize")) == 32 * MiB
        later.swapfile(True)  # verifies, changes nothing
        assert later.state == backend.state
    finally:
        run("swapoff", dev)

    later.resize(64 * MiB)
    assert later.capacity_bytes() == 64 * MiB and algorithms(Path(dev).name)[1] == "lz4"

    later.swapfile(False)
    assert all_zram() == before and _forgotten(later)
    later.swapfile(False)  # already gone is fine


@needs_root
@pytest.mark.usefixtures("zram_cleanup")
def test_it_formats_the_device_again_after_a_resize(policy: Policy) -> None:
    # What the resize job does: resize the inactive device, then mkswap it (same UUID).
    backend = ZramBackend(
        {}, size_bytes=8 * MiB, policy=policy, provisioning=True, owner=str(uuid.uuid4())
    )
    backend.swapfile(True)
    try:
        hdr = header.mkswap(backend, label="resized")
        later = _later(backend)
        later.resize(16 * MiB)
        again = header.mkswap(later, label=hdr.label, uuid=hdr.uuid)
        assert again.last_page == 16 * MiB // 4096 - 1
        assert later.record["uuid"] == str(hdr.uuid)
        later.close()
        _later(later).verify()
    finally:
        backend.close()
        _later(backend).swapfile(False)


@needs_root
@pytest.mark.usefixtures("zram_cleanup")
def test_it_shows_the_compression_ratio(policy: Policy) -> None:
    backend = ZramBackend(
        {}, size_bytes=8 * MiB, policy=policy, provisioning=True, owner=str(uuid.uuid4())
    )
    backend.swapfile(True)
    try:
        page = (b"swapadmin " * 410)[:4096]
        for slot in range(1, 257):
            backend.swap_out(slot, page)
        backend.close()
        info = backend.describe()
        assert info["orig_data_size"] >= 256 * 4096 // 2
        assert info["compr_data_size"] < info["orig_data_size"]
        assert info["compression_ratio"] > 2
    finally:
        backend.close()
        backend.swapfile(False)


@needs_root
@pytest.mark.usefixtures("zram_cleanup")
def test_it_refuses_to_enable_a_device_of_another_size(policy: Policy) -> None:
    backend = ZramBackend(
        {}, size_bytes=8 * MiB, policy=policy, provisioning=True, owner=str(uuid.uuid4())
    )
    backend.swapfile(True)
    try:
        other = ZramBackend({}, size_bytes=16 * MiB, policy=policy, state=backend.state)
        with pytest.raises(UnsafeError, match=f"holds {8 * MiB} bytes, not the {16 * MiB}"):
            other.swapfile(True)
        assert backend.capacity_bytes() == 8 * MiB
    finally:
        backend.swapfile(False)
