"""A device with a filesystem or partition table is refused unless forced; a swap
signature is fine. Forced, the device goes through mkswap and swapon for real."""

from __future__ import annotations

import hashlib

import pytest

from backends import kernel
from backends.errors import UnsafeError
from backends.plugins.block import BlockBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run

DEVICE_SIZE = 64 * 1024 * 1024


def _digest(dev: str) -> str:
    with open(dev, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@needs_root
def test_it_refuses_a_filesystem_without_force(loop_device: str, policy: Policy) -> None:
    run("mkfs.ext4", "-q", "-L", "precious", loop_device)
    before = _digest(loop_device)
    backend = BlockBackend({"device": loop_device}, policy=policy)
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
        BlockBackend({"device": loop_device}, policy=policy).swapfile(True)
    assert _digest(loop_device) == before


@needs_root
def test_it_accepts_a_filesystem_with_force(loop_device: str, policy: Policy) -> None:
    run("mkfs.ext4", "-q", loop_device)
    backend = BlockBackend({"device": loop_device}, policy=policy, force=True)
    backend.swapfile(True)
    assert backend.capacity_bytes() == DEVICE_SIZE
    run("mkswap", "-q", "-f", loop_device)
    kernel.swapon(loop_device)
    try:
        assert backend.is_active()
        backend.swapfile(True)  # enabling an active area accepts it as it is
        assert backend.describe()["signatures"] == ["swap"]
    finally:
        run("swapoff", loop_device)


@needs_root
def test_it_accepts_an_existing_swap_area(loop_device: str, policy: Policy) -> None:
    run("mkswap", "-q", loop_device)
    before = _digest(loop_device)
    BlockBackend({"device": loop_device}, policy=policy).swapfile(True)
    assert _digest(loop_device) == before
