"""Releasing a user-space area (disable, destroy) takes down only what is this backend's,
and never a daemon something still sends pages to. The mount point is derived from the
store's identity, never read from the state: a state naming another directory is refused
and nothing there is touched. A uswapd serving another store over this backend's mount
point is left running and mounted. A loop device a crash attached before it was recorded is
found by the mount it serves and detached with it. A daemon whose mount was detached
lazily, and so still serves the loop device over it, is not ended, and its store is not
deleted, until that loop device is gone; then the daemon ends by itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from swapadmin_userspace import daemon as uswapd

from backends.base import PAGE_SIZE
from backends.errors import ActiveAreaError, BusyError, NotOursError
from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root, run
from tests.userspace.served import (
    EXIT_SECONDS,
    SIZE,
    daemons_under,
    ended,
    later,
    made,
    recorded,
)


@needs_root
def test_a_state_naming_another_mount_point_is_refused_and_nothing_there_is_touched(
    swap_root: Path, policy: Policy, uswap_dir: Path, scratch: Path
) -> None:
    plugin = made(swap_root, policy)
    real_mp = plugin.mountpoint
    assert real_mp is not None and real_mp.startswith(str(uswap_dir) + "/")
    # What a row written elsewhere could name: an empty directory (removed by a release
    # that trusted it) with a log beside it (unlinked).
    elsewhere = scratch / "elsewhere"
    elsewhere.mkdir()
    log = scratch / "elsewhere.log"
    log.write_text("not the daemon's\n")
    job = later(plugin, state={**plugin.state, "mountpoint": str(elsewhere)})
    for act in (lambda: job.swapfile(False), lambda: job.swap_out(7, b"\xa5" * PAGE_SIZE)):
        with pytest.raises(NotOursError, match=f"the state names '{elsewhere}'"):
            act()
    job.close()
    assert elsewhere.is_dir() and log.read_text() == "not the daemon's\n"
    assert recorded(plugin).alive() and uswapd.mount_at(real_mp) is not None
    later(plugin).swapfile(False)
    assert daemons_under(uswap_dir) == [] and uswapd.mount_at(real_mp) is None


@needs_root
def test_a_uswapd_serving_another_store_over_the_mount_point_is_left_alone(
    swap_root: Path, policy: Policy, uswap_dir: Path, scratch: Path
) -> None:
    plugin = made(swap_root, policy)
    mp = plugin.mountpoint
    assert mp is not None
    later(plugin).swapfile(False)  # this backend's own daemon and mount are gone
    # A uswapd of someone else's, serving a store of the test's own, at that mount point.
    decoy = scratch / "decoy"
    decoy.write_bytes(b"decoy!!!" * (SIZE // 8))
    os.mkdir(mp, 0o700)
    store_fd = os.open(decoy, os.O_RDWR | os.O_CLOEXEC)
    log_fd = os.open(scratch / "decoy.log", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        stranger = uswapd.start(
            mountpoint=mp, store_fd=store_fd, size=SIZE, log_fd=log_fd, request_timeout=0
        )
    finally:
        os.close(store_fd)
        os.close(log_fd)
    try:
        job = later(plugin)
        with pytest.raises(NotOursError, match="does not hold this backend's store"):
            job.swapfile(True)
        with pytest.raises(NotOursError, match="which is not a uswapd holding this backend"):
            job.swapfile(False)
        with pytest.raises(ActiveAreaError, match=f"still served by uswapd at {mp}"):
            job.remove()
        job.close()
        assert stranger.daemon.alive()
        found = uswapd.mount_at(mp)
        assert found is not None and found.ours
        assert decoy.read_bytes() == b"decoy!!!" * (SIZE // 8)
        assert Path(plugin.file_path).exists()
    finally:
        uswapd.umount(mp)
        uswapd.end(stranger.daemon)
    later(plugin).swapfile(False)


@needs_root
def test_a_loop_device_attached_before_it_was_recorded_is_detached_with_the_mount(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = made(swap_root, policy)
    mp, recorded_dev, d = plugin.mountpoint, plugin.device, recorded(plugin)
    assert mp is not None and recorded_dev is not None
    # A second loop device over the area, as a crash between attaching and saving leaves
    # one: attached as the kind attaches (its name field this backend's), no state names it.
    area = os.open(f"{mp}/area", os.O_RDONLY)
    try:
        extra = plugin._configure_free_device(area)
    finally:
        os.close(area)
    try:
        state = {k: v for k, v in plugin.state.items() if k != "device"}
        later(plugin, state=state).swapfile(False)
        loops = attached_loops()
        assert extra not in loops and recorded_dev not in loops
        assert uswapd.mount_at(mp) is None and not d.alive()
    finally:
        if attached_loops().get(extra, "").startswith(str(uswap_dir)):
            run("losetup", "-d", extra, check=False)


@needs_root
def test_a_daemon_whose_mount_was_detached_lazily_is_not_ended_while_it_serves(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = made(swap_root, policy)
    mp, dev, d = plugin.mountpoint, plugin.device, recorded(plugin)
    assert mp is not None and dev is not None
    run("umount", "-l", mp)  # gone from the namespace; the loop device still holds it
    try:
        assert uswapd.mount_at(mp) is None and dev in attached_loops()
        job = later(plugin)
        with pytest.raises(BusyError, match="detached lazily"):
            job.swapfile(False)
        with pytest.raises(ActiveAreaError, match=f"held open by uswapd pid {d.pid}"):
            job.remove()
        job.close()
        assert d.alive() and Path(plugin.file_path).exists()
    finally:
        # Its backing file's path no longer lies under the test's directory (the mount is
        # detached), so the take-down would not know it: detached here, whatever happened.
        # The loop device is what held the connection: once it lets go, the daemon ends
        # by itself, and the release finds nothing left to refuse.
        if attached_loops().get(dev) in ("/area", f"{mp}/area"):
            run("losetup", "-d", dev, check=False)
    assert ended(d, EXIT_SECONDS)
    last = later(plugin)
    last.swapfile(False)
    assert last.remove()
    assert not Path(plugin.file_path).exists()
    assert daemons_under(uswap_dir) == []
