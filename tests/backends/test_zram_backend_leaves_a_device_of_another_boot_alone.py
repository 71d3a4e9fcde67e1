"""zram devices do not outlive a reboot, so a device recorded during another boot (or with no
boot id) may now be someone else's under the same number: the backend forgets it and never
resets, removes, configures or mkswaps it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import kernel
from backends.plugins.zram import ZramBackend, algorithms
from backends.policy import Policy
from tests.fixtures.host import all_zram, hot_add_zram, needs_root, run

MiB = 1024 * 1024

pytestmark = [needs_root, pytest.mark.usefixtures("zram_cleanup")]


def boot_id() -> str:
    return Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def _sys(dev: str, attr: str) -> str:
    return (Path("/sys/block") / Path(dev).name / attr).read_text().strip()


def _others_device(size: int) -> str:
    """A device this test hot_adds as 'someone else' would: with a non-default algorithm."""
    dev = hot_add_zram()
    if size:
        listed, current = algorithms(Path(dev).name)
        other = next(a for a in listed if a != current)
        (Path("/sys/block") / Path(dev).name / "comp_algorithm").write_text(other)
        (Path("/sys/block") / Path(dev).name / "disksize").write_text(str(size))
    return dev


def _forgotten(backend: ZramBackend) -> bool:
    """Nothing of a device is left in the state: no number, boot, identity nor UUID."""
    return set(backend.state) <= {"store"} and backend.record == {}


def _snapshot(dev: str) -> tuple[str, str]:
    return _sys(dev, "disksize"), _sys(dev, "comp_algorithm")


@pytest.fixture(params=["another boot", "no boot id"])
def stale(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    yield {"boot_id": str(uuid.uuid4())} if request.param == "another boot" else {}


def test_a_fresh_device_records_this_boot(policy: Policy) -> None:
    backend = ZramBackend(
        {}, size_bytes=8 * MiB, policy=policy, provisioning=True, owner=str(uuid.uuid4())
    )
    backend.swapfile(True)
    assert backend.state["boot_id"] == boot_id() == backend.record["boot_id"]
    backend.swapfile(False)
    assert _forgotten(backend)


@pytest.mark.parametrize("size", [0, 8 * MiB], ids=["unconfigured", "size-matched"])
def test_enable_adds_a_device_of_its_own(policy: Policy, stale: dict[str, str], size: int) -> None:
    theirs = _others_device(size)
    before = _snapshot(theirs)
    backend = ZramBackend({}, size_bytes=8 * MiB, policy=policy, state={"device": theirs, **stale})
    backend.swapfile(True)
    ours = backend.state["device"]
    assert ours != theirs and backend.state["boot_id"] == boot_id()
    assert int(_sys(ours, "disksize")) == 8 * MiB
    assert _snapshot(theirs) == before

    backend.swapfile(False)
    assert ours not in all_zram() and theirs in all_zram()
    assert _snapshot(theirs) == before


def test_disable_forgets_the_device_and_leaves_it(policy: Policy, stale: dict[str, str]) -> None:
    theirs = _others_device(8 * MiB)
    before = _snapshot(theirs)
    backend = ZramBackend({}, size_bytes=8 * MiB, policy=policy, state={"device": theirs, **stale})
    backend.swapfile(False)
    assert _forgotten(backend)
    assert theirs in all_zram() and _snapshot(theirs) == before


def test_an_active_device_of_another_boot_is_not_ours_to_deactivate(
    policy: Policy, stale: dict[str, str]
) -> None:
    theirs = _others_device(8 * MiB)
    run("mkswap", "-q", theirs)
    kernel.swapon(theirs)
    try:
        backend = ZramBackend(
            {}, size_bytes=8 * MiB, policy=policy, state={"device": theirs, **stale}
        )
        # Not active as far as this backend knows, so no job swaps it off.
        assert not backend.is_active()
        backend.swapfile(False)
        assert _forgotten(backend) and kernel.is_active(theirs)
    finally:
        run("swapoff", theirs)
