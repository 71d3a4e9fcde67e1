"""The user-space kind never shows a loop device it cannot ask as detached.

Whether the recorded loop device still serves the backend's FUSE mount is asked of the
device itself. The kind read any failure to ask (EACCES from a device cgroup, EIO) as "not
attached": the page said an area that may be swapping on the mount had no device, and a
resize took the file alone for the store. Only a device gone (ENOENT, ENXIO), no loop device,
or one serving another file reads as not attached; anything else is "not known", with why,
beside the daemon's own facts (a daemon gone is named as such).

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
from tests.userspace.served import EXIT_SECONDS, ended, kill, later, made, recorded

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
        "    info = b.describe()\n"
        "finally:\n"
        "    b.close()\n"
        "out = {k: info.get(k) for k in ('attached', 'unreadable', 'daemon_running', 'device')}\n"
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

    assert got["attached"] is None, got  # not "not attached": unknown
    why = got["unreadable"]["attached"]  # type: ignore[index]
    assert why.startswith(f"cannot tell whether {dev} serves this backend's mount"), why
    assert "Operation not permitted" in why
    # The rest is still described: the daemon's facts are what tell a person why.
    assert got["daemon_running"] is True and got["device"] == dev
    loop_fact = next(
        f
        for f in type(plugin).facts(got, plugin.params, plugin.state, None)
        if f.term == "Loop device"
    )
    assert loop_fact.problem == f"whether it serves the mount is not known: {why}"


def test_a_dead_daemons_area_is_still_described(swap_root: Path, policy: Policy) -> None:
    """With its daemon killed (the kernel aborts the connection when the daemon's /dev/fuse
    closes), the area is still described: the daemon not running, the loop device still
    bound (the kernel answers from the file's cached attributes). A guard, passing before
    too: the question may go to the dead daemon, and whatever it answers must take nothing
    else from the description."""
    plugin = made(swap_root, policy)
    dead = recorded(plugin)
    kill(dead)
    assert ended(dead, EXIT_SECONDS)

    info = later(plugin).describe()

    assert info["daemon_running"] is False
    assert info["device"] == plugin.state["device"]
    assert info["attached"] is True, info
