"""A release forgets only what is gone. Behind a mount detached lazily (``umount -l``) a
loop device may still serve the area, and a second uswapd may still serve the store: the
release cannot reach them through its mount point, so it names them and stops, touching
nothing, instead of forgetting the loop device (review finding: the state dropped it, and
the backend was shown released while the device stayed attached) or SIGKILLing a daemon
whose pages may be swapped on (review finding: every daemon holding the store was ended)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from swapadmin_userspace import daemon as uswapd

from backends.errors import ActiveAreaError, BusyError
from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root, run
from tests.userspace.served import ended, kill, later, made, recorded


@needs_root
def test_a_loop_device_behind_a_lazily_detached_mount_is_named_not_forgotten(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = made(swap_root, policy)
    mp, dev, d = plugin.mountpoint, plugin.device, recorded(plugin)
    assert mp is not None and dev is not None
    try:
        run("umount", "-l", mp)
        # Its store deleted by hand too: the daemon still holding it is found by the
        # record's device and inode, and the removal refused (review finding: it went on).
        os.unlink(plugin.file_path)
        with pytest.raises(ActiveAreaError, match=f"held open by uswapd pid {d.pid}"):
            later(plugin).remove()
        kill(d)  # its daemon gone too: nothing holds the store, the device stays
        assert ended(d, 30)
        job = later(plugin)
        with pytest.raises(BusyError) as refused:
            job.swapfile(False)
        assert dev in refused.value.message
        assert job.state["device"] == dev and dev in attached_loops()
    finally:
        # The take-down finds loop devices by their backing file's name under the test's
        # directory; this one's now reads "/area", from the detached tree's root. Detached
        # only while it is that one (not a number reused by another since).
        if attached_loops().get(dev) == "/area":
            run("losetup", "-d", dev, check=False)


@needs_root
def test_a_second_daemon_holding_the_store_is_named_not_killed(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = made(swap_root, policy)
    mp, dev, d = plugin.mountpoint, plugin.device, recorded(plugin)
    assert mp is not None and dev is not None
    other = uswap_dir / "elsewhere"
    other.mkdir(mode=0o700)
    rw = os.open(plugin.file_path, os.O_RDWR | os.O_DIRECT | os.O_CLOEXEC)
    log = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    try:
        second = uswapd.start(
            mountpoint=str(other),
            store_fd=rw,
            size=os.fstat(rw).st_size,
            log_fd=log,
            request_timeout=0,
        ).daemon
    finally:
        os.close(rw)
        os.close(log)

    job = later(plugin)
    with pytest.raises(BusyError) as refused:
        job.swapfile(False)
    assert f"uswapd pid {second.pid}" in refused.value.message
    assert second.alive() and d.alive()
    assert uswapd.mount_at(mp) is not None and dev in attached_loops()
