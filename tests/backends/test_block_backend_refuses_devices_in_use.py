"""A provision of the block kind refuses a device that something else uses: mounted (itself or a
partition), with a dm device stacked on it, or holding /. force overrides none of these,
and each refusal leaves the device exactly as it was."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from backends.base import PAGE_SIZE
from backends.errors import BusyError, UnsafeError, ValidationError
from backends.plugins.block import BlockBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run


def _digest(dev: str) -> str:
    with open(dev, "rb") as f:
        return hashlib.sha256(f.read(4 * 1024 * 1024)).hexdigest()


def _provision(dev: str, policy: Policy, *, force: bool = False) -> BlockBackend:
    """The plugin of a provision job for a new backend on ``dev``."""
    return BlockBackend(
        {"device": dev}, policy=policy, force=force, provisioning=True, owner=str(uuid.uuid4())
    )


def _mounted(dev: str, where: Path) -> bool:
    return str(where) in Path("/proc/self/mountinfo").read_text()


@needs_root
@pytest.mark.parametrize("force", [False, True])
def test_it_refuses_a_mounted_device(
    loop_device: str, scratch: Path, policy: Policy, force: bool
) -> None:
    run("mkfs.ext4", "-q", loop_device)
    mnt = scratch / "mnt"
    mnt.mkdir()
    run("mount", loop_device, str(mnt))
    try:
        backend = _provision(loop_device, policy, force=force)
        with pytest.raises(UnsafeError, match=f"is mounted at {mnt}; unmount it first"):
            backend.swapfile(True)
        before = _digest(loop_device)
        # A page write looks at the device's mounts before it opens it (and would open it
        # O_EXCL, which the kernel refuses under a mounted filesystem anyway).
        with pytest.raises(UnsafeError, match=f"is mounted at {mnt}"):
            backend.swap_out(1, b"\0" * PAGE_SIZE)
        assert _mounted(loop_device, mnt)
        assert _digest(loop_device) == before
    finally:
        run("umount", str(mnt))


@needs_root
def test_it_refuses_a_disk_whose_partition_is_mounted(
    loop_device: str, scratch: Path, policy: Policy
) -> None:
    run("sfdisk", "-q", loop_device, input="2048,,L\n")
    run("partx", "-a", loop_device)
    part = loop_device + "p1"
    try:
        run("mkfs.ext4", "-q", part)
        mnt = scratch / "mnt"
        mnt.mkdir()
        run("mount", part, str(mnt))
        try:
            backend = _provision(loop_device, policy, force=True)
            with pytest.raises(UnsafeError, match=f"or one of its partitions is mounted at {mnt}"):
                backend.swapfile(True)
        finally:
            run("umount", str(mnt))
    finally:
        run("partx", "-d", loop_device, check=False)


@needs_root
def test_it_refuses_a_device_under_device_mapper(loop_device: str, policy: Policy) -> None:
    probe = run("dmsetup", "version", check=False)
    if probe.returncode != 0:
        pytest.skip(f"this kernel has no device-mapper: {probe.stderr.strip().splitlines()[0]}")
    name = f"swapadmin-test-{os.getpid()}"
    sectors = 64 * 1024 * 1024 // 512
    run("dmsetup", "create", name, "--table", f"0 {sectors} linear {loop_device} 0")
    try:
        before = _digest(loop_device)
        backend = _provision(loop_device, policy, force=True)
        with pytest.raises(UnsafeError, match=r"is in use by dm-\d+ .*force does not override"):
            backend.swapfile(True)
        assert _digest(loop_device) == before
    finally:
        run("dmsetup", "remove", name)


@needs_root
def test_it_refuses_the_device_holding_root(policy: Policy) -> None:
    # Only stat and sysfs are read: the refusal comes before anything opens the device.
    root_source = next(
        line.split(" - ")[1].split()[1]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4] == "/"
    )
    if not root_source.startswith("/dev/"):
        pytest.skip(f"/ is on {root_source}, not a block device")
    backend = _provision(root_source, policy, force=True)
    with pytest.raises(UnsafeError, match="holds the root filesystem; it can never be swap"):
        backend.swapfile(True)


@needs_root
def test_it_refuses_what_is_not_a_block_device(scratch: Path, policy: Policy) -> None:
    (scratch / "file").write_bytes(b"x")
    backend = _provision("/dev/null", policy)
    with pytest.raises(ValidationError, match="/dev/null is not a block device"):
        backend.swapfile(True)


def test_it_refuses_a_path_outside_dev(policy: Policy) -> None:
    with pytest.raises(ValidationError, match="not a device path under /dev/"):
        BlockBackend({"device": "/tmp/disk"}, policy=policy)
    with pytest.raises(ValidationError, match="not a normalised path"):
        BlockBackend({"device": "/dev/../etc/passwd"}, policy=policy)


def test_it_takes_no_size(policy: Policy) -> None:
    with pytest.raises(ValidationError, match="takes its size from the device"):
        BlockBackend({"device": "/dev/sdz"}, size_bytes=4096 * 100, policy=policy)


@needs_root
def test_it_refuses_a_device_held_exclusively(loop_device: str, policy: Policy) -> None:
    # What a mount in another namespace or a running mkfs looks like from here.
    holder = os.open(loop_device, os.O_RDONLY | os.O_EXCL)
    try:
        backend = _provision(loop_device, policy, force=True)
        with pytest.raises(BusyError, match="held open exclusively by another user") as e:
            backend.swapfile(True)
        assert e.value.retryable
    finally:
        os.close(holder)
    with _provision(loop_device, policy, force=True) as backend:
        backend.swapfile(True)
