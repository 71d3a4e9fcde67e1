"""A loop device attached to a block device (``losetup /dev/loopY /dev/loopX``) is only
another name for that device's bytes. Taken as a block backend it would bypass every check
the lower device gets: that it is mounted, held, or holds a filesystem. So it is refused,
forced or not, with the reason, before anything is recorded as taken or written; a force
never gets past a lower device that is mounted."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends import header
from backends.errors import NotOursError
from backends.plugins.block import BlockBackend
from backends.policy import Policy
from tests.fixtures.by_hand import attached, devnum, mounted
from tests.fixtures.host import needs_root, run
from tests.ownership.conftest import digest, ext4_image, fsck_clean

pytestmark = [pytest.mark.root, needs_root]


def _provision(dev: str, policy: Policy, *, force: bool) -> None:
    """What a provision job does with a new block backend on ``dev``: take, then mkswap."""
    backend = BlockBackend(
        {"device": dev}, policy=policy, force=force, provisioning=True, owner=str(uuid.uuid4())
    )
    try:
        backend.swapfile(True)
        header.mkswap(backend)
    finally:
        backend.close()


@pytest.mark.parametrize("force", [False, True], ids=["not forced", "forced"])
def test_it_refuses_a_loop_device_over_a_block_device(
    scratch: Path, policy: Policy, force: bool
) -> None:
    image = ext4_image(scratch / "lower.img")
    before = digest(image)
    with (
        attached(image) as lower,
        attached(lower) as upper,
        pytest.raises(
            NotOursError, match=f"{upper} is a loop device over the block device {devnum(lower)}"
        ),
    ):
        _provision(upper, policy, force=force)
    assert digest(image) == before and fsck_clean(image)


@pytest.mark.parametrize("force", [False, True], ids=["not forced", "forced"])
def test_a_mounted_lower_device_is_never_reached(
    scratch: Path, policy: Policy, force: bool
) -> None:
    image = ext4_image(scratch / "lower.img")
    with attached(image) as lower, mounted(lower, scratch / "mnt") as mnt:
        (mnt / "precious").write_text("keep me\n")
        run("sync")
        with attached(lower) as upper:
            with pytest.raises(
                NotOursError,
                match=f"{upper} is a loop device over the block device {devnum(lower)}",
            ):
                _provision(upper, policy, force=force)
            assert "swap" not in run("blkid", "-p", "-o", "value", "-s", "TYPE", upper).stdout
        assert (mnt / "precious").read_text() == "keep me\n"
    assert fsck_clean(image)
