"""Within one boot a zram device's number can be reused: the backend's device is removed by
hand (``zramctl --reset``, a script), and the next ``hot_add`` (someone else's) gets the same
number. The disk sequence number tells them apart. Destroying the backend then forgets its
device, which is gone, and succeeds: it neither refuses (the backend must stay destroyable)
nor touches the device that now has the number."""

from __future__ import annotations

import pytest

from backends import header
from backends.plugins.zram import ZramBackend
from backends.policy import Policy
from tests.fixtures.by_hand import ZramDevices, remove_zram, zram_devices, zram_of
from tests.fixtures.host import needs_root, run
from tests.fixtures.stores import provisioned, rebuilt

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20
SIZE = 16 * MiB


def _same_number(zram: ZramDevices, number: int):
    """hot_add until the kernel hands out ``number`` again (it gives the lowest free one);
    the devices added on the way go again at once."""
    extra = []
    try:
        while True:
            z = zram.hot_add()
            if z.number == number:
                return z
            assert z.number < number, f"zram{number} was taken by someone else meanwhile"
            extra.append(z)
    finally:
        for z in extra:
            remove_zram(z)


def test_destroy_forgets_it_and_leaves_the_new_device(policy: Policy) -> None:
    with zram_devices() as zram:
        made = zram.track(provisioned("zram", {}, size=SIZE, policy=policy))
        made.close()
        zram.note(made.state)
        ours = zram_of(made.state["device"].removeprefix("/dev/"))
        assert ours.diskseq == made.record["diskseq"]
        remove_zram(ours)  # removed by hand

        theirs = _same_number(zram, ours.number)
        assert theirs.dev == made.state["device"] and theirs.diskseq != ours.diskseq
        theirs.set("disksize", SIZE)
        run("mkswap", "-q", "-L", "theirs", theirs.dev)
        before = (theirs.attr("disksize"), theirs.attr("comp_algorithm"), theirs.digest())

        job = rebuilt(made)  # the destroy job's plugin
        assert isinstance(job, ZramBackend)
        job.swapfile(False)
        assert "device" not in job.state and not job.record.get("devnum")
        assert theirs.alive()
        assert (theirs.attr("disksize"), theirs.attr("comp_algorithm"), theirs.digest()) == before
        with open(theirs.dev, "rb") as f:
            assert header.parse_header(f.read(4096)).label == "theirs"
