"""An algorithm name is checked lexically in the web process and against the host's own
list on the worker; a refusal leaves no zram device behind."""

from __future__ import annotations

import uuid

import pytest

from backends.errors import ValidationError
from backends.plugins.zram import ZramBackend
from backends.policy import Policy
from tests.fixtures.host import all_zram, needs_root

MiB = 1024 * 1024


def _forgotten(backend: ZramBackend) -> bool:
    """Nothing of a device is left in the state: no number, boot, identity nor UUID."""
    return set(backend.state) <= {"store"} and backend.record == {}


@pytest.mark.parametrize("algorithm", ["LZ4", "lz4; reboot", "../x", "a" * 40])
def test_it_refuses_what_is_not_an_algorithm_name(policy: Policy, algorithm: str) -> None:
    with pytest.raises(ValidationError) as e:
        ZramBackend({"algorithm": algorithm}, size_bytes=8 * MiB, policy=policy)
    assert e.value.field == "algorithm"


@needs_root
@pytest.mark.usefixtures("zram_cleanup")
def test_it_refuses_an_algorithm_the_kernel_lacks(policy: Policy) -> None:
    before = all_zram()
    backend = ZramBackend(
        {"algorithm": "nosuchzip"},
        size_bytes=8 * MiB,
        policy=policy,
        provisioning=True,
        owner=str(uuid.uuid4()),
    )
    with pytest.raises(ValidationError, match=r"does not offer 'nosuchzip'; it offers .*lz"):
        backend.swapfile(True)
    assert all_zram() == before and _forgotten(backend)


def test_it_refuses_a_negative_memory_limit(policy: Policy) -> None:
    with pytest.raises(ValidationError, match="must be at least 0"):
        ZramBackend({"mem_limit_bytes": -1}, size_bytes=8 * MiB, policy=policy)


@needs_root
@pytest.mark.usefixtures("zram_cleanup")
def test_it_never_touches_a_device_not_in_its_state(policy: Policy) -> None:
    # A device gone from the host is forgotten, not re-created under the same number.
    backend = ZramBackend({}, size_bytes=8 * MiB, policy=policy, state={"device": "/dev/zram999"})
    backend.swapfile(False)
    assert _forgotten(backend)
