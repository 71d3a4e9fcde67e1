"""A loop device the backend cannot ask is never taken for one detached, or serving another
file; one detached or gone is.

Whether the backend's recorded device still serves its file is asked of the device itself
(LOOP_GET_STATUS64: the device and inode it serves). Any failure to ask (EACCES from a
device cgroup, EMFILE, EIO) was read as "it serves something else": the backend said its
device was not attached, a disable forgot it without detaching it, an enable attached the
file to a second device beside it. Only a device detached (ENXIO) or gone (no node,
ENOENT), or one serving another file, reads as not ours now; anything else is raised.

The denial is real: the question is asked from a process in a v1 devices cgroup that denies
the loop major (7), about a loop device this test's backend attached.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backends.plugins.loop import LoopBackend
from backends.policy import Policy
from tests.backends.test_a_loop_device_that_cannot_be_asked_serves_no_write import (
    ask_in,
    no_loop_devices,  # noqa: F401 - the fixture
)
from tests.fixtures.host import attached_loops, needs_root, run
from tests.fixtures.stores import made_loop, rebuilt, rebuilt_loop

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20


def _in_the_child(made: LoopBackend, swap_root: Path) -> str:
    """Code that builds ``made``'s later plugin in the child, asks whether its device is
    attached, then disables it; ``out`` says what each did and the device it ends with."""
    plugin = json.dumps(
        {
            "params": made.params,
            "size": made.size_bytes,
            "state": made.state,
            "owner": made.owner,
            "root": str(swap_root),
        }
    )
    return (
        "from pathlib import Path\n"
        "from backends.plugins.loop import LoopBackend\n"
        "from backends.policy import Policy\n"
        f"p = json.loads({plugin!r})\n"
        "b = LoopBackend(p['params'], size_bytes=p['size'], state=p['state'],\n"
        "    policy=Policy(swap_roots=(Path(p['root']),)), owner=p['owner'])\n"
        "out = {}\n"
        "try:\n"
        "    out['attached'] = b.describe()['attached']\n"
        "except BackendError as e:\n"
        "    out['describe'] = e.message\n"
        "try:\n"
        "    b.swapfile(False)\n"
        "    out['disabled'] = True\n"
        "except BackendError as e:\n"
        "    out['disable'] = e.message\n"
        "out['device'] = b.state.get('device')\n"
    )


def test_a_device_that_cannot_be_asked_is_neither_detached_nor_forgotten(
    swap_root: Path,
    policy: Policy,
    no_loop_devices: Path,  # noqa: F811
) -> None:
    made = made_loop(swap_root, policy)
    dev = made.state["device"]
    path = str(swap_root / "swap0")
    try:
        got = ask_in(no_loop_devices, _in_the_child(made, swap_root))
        assert "attached" not in got, got  # not "not attached": unknown
        assert f"cannot tell whether {dev} serves this backend's file" in str(got["describe"])
        assert "Operation not permitted" in str(got["describe"])
        assert "disabled" not in got and got["device"] == dev, got
        assert attached_loops().get(dev) == path
    finally:
        rebuilt_loop(made).swapfile(False)
    assert attached_loops().get(dev) != path


def test_a_device_detached_under_it_is_forgotten(swap_root: Path, policy: Policy) -> None:
    made = made_loop(swap_root, policy)
    dev = made.state["device"]
    run("losetup", "-d", dev)  # by hand: the device serves nothing now (ENXIO)
    job = rebuilt_loop(made)
    assert job.describe()["attached"] is False
    job.swapfile(False)
    assert "device" not in job.state
    assert job.remove() is True and not (swap_root / "swap0").exists()


def test_a_device_whose_node_is_gone_is_forgotten(swap_root: Path, policy: Policy) -> None:
    made = made_loop(swap_root, policy)
    dev = made.state["device"]
    run("losetup", "-d", dev)
    # The device removed since (LOOP_CTL_REMOVE): its node is gone (ENOENT).
    number = max(int(p.name.removeprefix("loop")) for p in Path("/sys/block").glob("loop*"))
    gone = f"/dev/loop{number + 1000}"
    assert not Path(gone).exists()
    job = rebuilt(made, state={**made.state, "device": gone})
    assert isinstance(job, LoopBackend)
    assert job.describe()["attached"] is False
    job.swapfile(False)
    assert "device" not in job.state
    assert job.remove() is True and not (swap_root / "swap0").exists()
