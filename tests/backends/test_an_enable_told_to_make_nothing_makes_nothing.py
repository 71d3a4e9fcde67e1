"""``swapfile(True)`` of a plugin told ``may_make_store = False`` makes no store where there
is none: a zram backend adds no device, a loop backend attaches none to its file. It
raises ``NoDeviceError`` instead. A resize's swapon again asks this: it only puts back
what was, and a device made in place of one gone would be left there, recorded, empty
(review 220/2). Without the flag the same calls make the device, as an activate after a
reboot must."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends.errors import NoDeviceError
from backends.plugins.zram import ZramBackend
from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root, run, zram_ledger
from tests.fixtures.stores import made_loop, rebuilt_loop

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20


@pytest.mark.usefixtures("zram_cleanup")  # a device added all the same goes with the test
def test_a_zram_backend_with_no_device_adds_none(policy: Policy) -> None:
    backend = ZramBackend({}, size_bytes=8 * MiB, policy=policy, owner=str(uuid.uuid4()))
    backend.may_make_store = False
    added = len(zram_ledger())
    with (
        backend,
        pytest.raises(NoDeviceError, match="no device of its own any more; none is added"),
    ):
        backend.swapfile(True)
    assert zram_ledger()[added:] == [], "a device was added"
    assert "device" not in backend.state


def test_a_loop_backend_whose_device_was_detached_attaches_none(
    swap_root: Path, policy: Policy
) -> None:
    made = made_loop(swap_root, policy)
    path = str(swap_root / "swap0")
    run("losetup", "-d", made.state["device"])
    assert path not in attached_loops().values()
    again = rebuilt_loop(made)
    again.may_make_store = False
    try:
        with pytest.raises(NoDeviceError, match="is not attached to a loop device any more"):
            again.swapfile(True)
        assert path not in attached_loops().values(), "a device was attached"
    finally:
        again.close()
        again.may_make_store = True
        again.swapfile(False)
    assert path not in attached_loops().values()
