"""A provision refuses a device with a filesystem or partition table unless forced; a swap
signature is fine. Forced, the device goes through mkswap and swapon for real."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from backends import header, kernel
from backends.errors import UnsafeError
from backends.plugins.block import BlockBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run
from tests.fixtures.stores import rebuilt

DEVICE_SIZE = 64 * 1024 * 1024


def _digest(dev: str) -> str:
    with open(dev, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _provision(dev: str, policy: Policy, *, force: bool = False) -> BlockBackend:
    """The plugin of a provision job for a new backend on ``dev``."""
    return BlockBackend(
        {"device": dev}, policy=policy, force=force, provisioning=True, owner=str(uuid.uuid4())
    )


@needs_root
def test_it_refuses_a_filesystem_without_force(loop_device: str, policy: Policy) -> None:
    run("mkfs.ext4", "-q", "-L", "precious", loop_device)
    before = _digest(loop_device)
    backend = _provision(loop_device, policy)
    with pytest.raises(
        UnsafeError,
        match="holds data: ext4 labelled 'precious' at 0x438. "
        "Making it swap destroys that; confirm with force",
    ):
        backend.swapfile(True)
    assert _digest(loop_device) == before
    assert "ext4" in run("blkid", "-p", "-o", "value", "-s", "TYPE", loop_device).stdout


@needs_root
def test_it_refuses_a_partition_table_without_force(loop_device: str, policy: Policy) -> None:
    run("sfdisk", "-q", loop_device, input="label: gpt\n2048,,L\n")
    before = _digest(loop_device)
    with pytest.raises(UnsafeError, match="holds data: gpt"):
        _provision(loop_device, policy).swapfile(True)
    assert _digest(loop_device) == before


@needs_root
def test_it_accepts_a_filesystem_with_force(loop_device: str, policy: Policy) -> None:
    run("mkfs.ext4", "-q", loop_device)
    with _provision(loop_device, policy, force=True) as backend:
        backend.swapfile(True)
        assert backend.capacity_bytes() == DEVICE_SIZE
        hdr = header.mkswap(backend)
    assert backend.record["uuid"] == str(hdr.uuid)
    later = rebuilt(backend)  # the activate job
    store = later.open_for_swapon()
    try:
        kernel.swapon(loop_device, fd=store.fd)
    finally:
        store.close()
    try:
        assert later.is_active()
        later.swapfile(True)  # enabling an active area verifies it as it is
        assert later.describe()["signatures"] == ["swap"]
    finally:
        run("swapoff", loop_device)


@needs_root
def test_it_takes_an_existing_swap_area_only_when_forced(loop_device: str, policy: Policy) -> None:
    """Someone's swap area: formatting it again changes its UUID, which whatever uses it
    (an fstab line, resume=) may name; adopting manages it as it is."""
    run("mkswap", "-q", loop_device)
    before = _digest(loop_device)
    with (
        _provision(loop_device, policy) as backend,
        pytest.raises(UnsafeError, match="holds a swap area that swapadmin did not make"),
    ):
        backend.swapfile(True)
    assert _digest(loop_device) == before
    with _provision(loop_device, policy, force=True) as backend:
        backend.swapfile(True)
    assert _digest(loop_device) == before
    assert backend.record["key"]
