"""A zram device that discovery adopted (someone's, swapon'd or set up by a zram-generator)
is recorded as adopted in the backend's store record. The plugin goes by that record, not
by the row's ``adopted`` column (which a job may find false: an edited row, a race with an
adopt): it never resizes the device (a reset loses its contents), and releasing it forgets
it without a reset or hot_remove. Device and contents stay exactly as they were."""

from __future__ import annotations

import uuid

import pytest

from backends.errors import NotOursError
from backends.plugins.zram import ZramBackend
from backends.policy import Policy
from backends.store import boot_id
from tests.fixtures.by_hand import Zram, zram_devices
from tests.fixtures.host import needs_root, run
from tests.fixtures.stores import rebuilt

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20
SIZE = 16 * MiB


def _adopted(z: Zram, policy: Policy) -> ZramBackend:
    """The plugin as discovery adopts a device (``handlers._adopt``), its record saved."""
    plugin = ZramBackend(
        {}, size_bytes=SIZE, policy=policy, state={"device": z.dev, "boot_id": boot_id()}
    )
    plugin.adopt_store()
    plugin.close()
    assert plugin.record["adopted"] is True and plugin.record["devnum"]
    return plugin


def _snapshot(z: Zram) -> tuple[str, str, str]:
    return z.attr("disksize"), z.attr("comp_algorithm"), z.digest()


def _theirs(zram) -> Zram:
    z = zram.hot_add(SIZE)
    run("mkswap", "-q", "-L", "theirs", z.dev)
    with open(z.dev, "r+b") as f:  # some pages of theirs beyond the header
        f.seek(SIZE // 2)
        f.write(b"theirs" * 1000)
    return z


def test_resize_is_refused(policy: Policy) -> None:
    with zram_devices() as zram:
        theirs = _theirs(zram)
        before = _snapshot(theirs)
        job = rebuilt(_adopted(theirs, policy), owner=str(uuid.uuid4()))  # a resize job's plugin
        with pytest.raises(NotOursError, match="adopted zram device is left as it is"):
            job.resize(2 * SIZE)
        job.close()
        assert theirs.alive() and _snapshot(theirs) == before


def test_release_forgets_it_without_a_reset(policy: Policy) -> None:
    with zram_devices() as zram:
        theirs = _theirs(zram)
        before = _snapshot(theirs)
        job = rebuilt(_adopted(theirs, policy), owner=str(uuid.uuid4()))  # destroy's plugin
        job.swapfile(False)
        assert "device" not in job.state
        assert theirs.alive() and _snapshot(theirs) == before
