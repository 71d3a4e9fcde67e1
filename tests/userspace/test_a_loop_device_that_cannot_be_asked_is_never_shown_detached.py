"""The user-space kind never shows a loop device it cannot ask as detached.

Whether the recorded loop device still serves the backend's FUSE mount is asked of the
device itself. The kind read any failure to ask (EACCES from a device cgroup, EIO) as "not
attached": the page said an area that may be swapping on the mount had no device, and a
resize took the file alone for the store. Only a device gone (ENOENT, ENXIO), no loop device,
or one serving another file reads as not attached; anything else is raised, naming the
device, as the loop kind does.

The denial is real: the question is asked from a process in a v1 devices cgroup that denies
the loop major (7), about the loop device this test's provision attached.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backends.policy import Policy
from tests.backends.test_a_loop_device_that_cannot_be_asked_serves_no_write import (
    ask_in,
    no_loop_devices,  # noqa: F401 - the fixture
)
from tests.fixtures.host import attached_loops, needs_root
from tests.userspace.served import made

pytestmark = [pytest.mark.root, needs_root, pytest.mark.usefixtures("uswap_dir")]


def _describe_in_the_child(plugin_json: str, swap_root: Path) -> str:
    return (
        "from pathlib import Path\n"
        "from swapadmin_userspace.plugin import UserspaceBackend\n"
        "from backends.policy import Policy\n"
        f"p = json.loads({plugin_json!r})\n"
        "b = UserspaceBackend(p['params'], size_bytes=p['size'], state=p['state'],\n"
        f"    policy=Policy(swap_roots=(Path({str(swap_root)!r}),)), owner=p['owner'])\n"
        "try:\n"
        "    out = {'attached': b.describe()['attached']}\n"
        "finally:\n"
        "    b.close()\n"
    )


def test_a_device_that_cannot_be_asked_is_not_shown_detached(
    swap_root: Path,
    policy: Policy,
    no_loop_devices: Path,  # noqa: F811
) -> None:
    plugin = made(swap_root, policy)
    dev = plugin.state["device"]
    assert attached_loops().get(dev), "the provision attached no loop device"
    assert plugin.describe()["attached"] is True  # asked freely

    saved = json.dumps(
        {
            "params": plugin.params,
            "size": plugin.size_bytes,
            "state": plugin.state,
            "owner": plugin.owner,
        }
    )
    got = ask_in(no_loop_devices, _describe_in_the_child(saved, swap_root))

    assert "attached" not in got, got  # not "not attached": unknown
    assert str(got["error"]).startswith(f"cannot tell whether {dev} serves this backend's mount")
    assert "Operation not permitted" in str(got["error"])
