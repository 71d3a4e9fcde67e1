"""A zram device is this backend's only when its state records the device it added (number
and disk sequence, ``state["store"]``). A row that merely names a device of this boot
(``{"device": "/dev/zramN", "boot_id": ...}``: edited by hand, or written before devices
were recorded) proves nothing: the device may be a distribution's zram-generator's, or hold
a filesystem. A provision of such a row adds a device of its own; destroy forgets the named
one; neither resets, reconfigures nor formats it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends import header
from backends.plugins.zram import ZramBackend
from backends.policy import Policy
from backends.store import boot_id
from tests.fixtures.by_hand import Zram, zram_devices
from tests.fixtures.host import needs_root, run
from tests.ownership.conftest import fsck_clean

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20
SIZE = 16 * MiB


def _theirs(zram) -> Zram:
    """Someone's device of this boot, of the very size the backend asks, holding ext4."""
    z = zram.hot_add(SIZE)
    run("mkfs.ext4", "-q", "-F", "-L", "theirs", z.dev)
    assert fsck_clean(z.dev)
    return z


def _named_only(z: Zram) -> dict[str, str]:
    return {"device": z.dev, "boot_id": boot_id()}


def _intact(z: Zram, before: tuple[str, str]) -> bool:
    return z.alive() and (z.attr("disksize"), z.digest()) == before and fsck_clean(z.dev)


def test_a_provision_adds_a_device_of_its_own(policy: Policy) -> None:
    with zram_devices() as zram:
        theirs = _theirs(zram)
        before = (theirs.attr("disksize"), theirs.digest())
        backend = zram.track(
            ZramBackend(
                {}, size_bytes=SIZE, policy=policy, state=_named_only(theirs),
                provisioning=True, owner=str(uuid.uuid4()),
            )
        )  # fmt: skip
        backend.swapfile(True)
        zram.note(backend.state)
        header.mkswap(backend, label="ours")  # what the provision job does next
        backend.close()
        ours = backend.state["device"]
        assert ours != theirs.dev
        assert (
            backend.record["devnum"]
            == Path(f"/sys/block/{Path(ours).name}/dev").read_text().strip()
        )
        assert _intact(theirs, before)
        assert "ext4" in run("blkid", "-p", "-o", "value", "-s", "TYPE", theirs.dev).stdout

        backend.swapfile(False)  # and its own goes again, the other one stays
        assert not Path(f"/sys/block/{Path(ours).name}").exists()
        assert _intact(theirs, before)


def test_destroy_forgets_the_named_device_and_leaves_it(policy: Policy) -> None:
    with zram_devices() as zram:
        theirs = _theirs(zram)
        before = (theirs.attr("disksize"), theirs.digest())
        backend = ZramBackend(
            {}, size_bytes=SIZE, policy=policy, state=_named_only(theirs), owner=str(uuid.uuid4())
        )
        backend.swapfile(False)
        assert "device" not in backend.state and backend.record == {}
        assert _intact(theirs, before)
