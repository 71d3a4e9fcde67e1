"""The user-space kind provisions through its daemon: the store is made as a swap file is,
uswapd serves it over FUSE from a session of its own, a loop device with direct I/O sits
over the daemon's area file, and the header mkswap writes lands in the store file. Pages
written through the plugin land in the store byte for byte and the daemon counts them.
Disabling leaves no mount, no loop device and no daemon; enabling again (as after a reboot)
starts them afresh over the same header. What is in place already is reused, also when a
crash lost its record."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from swapadmin_userspace import daemon
from swapadmin_userspace.plugin import UserspaceBackend

from backends import header
from backends.base import PAGE_SIZE
from backends.errors import BackendError, UnsafeError
from backends.header import parse_header
from backends.policy import Policy
from backends.store import Store
from tests.fixtures.host import attached_loops, mounts_under, needs_root, run
from tests.userspace.served import (
    SIZE,
    daemons_under,
    later,
    made,
    recorded,
    stats,
    store_bytes,
)


def _provisioning(swap_root: Path, policy: Policy, owner: str | None = None) -> UserspaceBackend:
    return UserspaceBackend(
        {"path": str(swap_root / "store0")},
        size_bytes=SIZE,
        policy=policy,
        provisioning=True,
        owner=owner or str(uuid.uuid4()),
    )


@needs_root
def test_it_serves_formats_writes_and_releases_its_store(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = _provisioning(swap_root, policy)
    plugin.swapfile(True)
    d, mp, dev = recorded(plugin), plugin.mountpoint, plugin.device
    assert mp is not None and dev is not None
    assert mp.startswith(f"{uswap_dir}/")
    assert attached_loops()[dev] == f"{mp}/area"
    assert Path(f"/sys/block/{Path(dev).name}/loop/dio").read_text().strip() == "1"
    assert os.getsid(d.pid) == d.pid  # a session of its own: a worker's restart spares it
    assert d.holds(daemon.file_key(os.stat(plugin.file_path)))
    assert stats(plugin)["pid"] == d.pid
    assert plugin.state["io_flusher"] is (stats(plugin)["io_flusher"] == 1)

    # As the provision job formats it (handlers._mkswap).
    swap_uuid = uuid.uuid4()
    header.mkswap(plugin, label="uswap", uuid=swap_uuid)
    plugin.close()
    hdr = parse_header(store_bytes(plugin)[:PAGE_SIZE])
    assert (hdr.uuid, hdr.label, hdr.last_page) == (swap_uuid, "uswap", SIZE // PAGE_SIZE - 1)
    assert run("blkid", "-o", "value", "-s", "UUID", plugin.file_path).stdout.strip() == str(
        swap_uuid
    )

    job = later(plugin)
    before = stats(job)
    pages = os.urandom(16 * PAGE_SIZE)
    slots = [*range(100, 108), *range(300, 308)]
    job.swap_out_many(slots, pages)
    after = stats(job)
    assert after["bytes_written"] - before["bytes_written"] == len(pages)
    assert after["writes"] > before["writes"]
    store = store_bytes(job)
    landed = b"".join(store[s * PAGE_SIZE : (s + 1) * PAGE_SIZE] for s in slots)
    assert landed == pages
    assert bytes(job.swap_in_many(slots)) == pages
    assert stats(job)["bytes_read"] - after["bytes_read"] >= len(pages)
    assert stats(job)["errors"] == 0
    job.close()

    job.swapfile(False)
    assert daemon.mount_at(mp) is None and not os.path.exists(mp)
    assert dev not in attached_loops() or not attached_loops()[dev].startswith(str(uswap_dir))
    assert not d.alive() and daemons_under(uswap_dir) == []
    assert {"device", "mountpoint", "daemon", "io_flusher"}.isdisjoint(job.state)
    assert os.path.exists(job.file_path)  # the store stays until destroy
    job.swapfile(False)  # released already: nothing to do

    # As after a reboot: the daemon is started again and finds the header in the store.
    again = later(job)
    again.swapfile(True)
    assert recorded(again) != d and recorded(again).alive()
    assert header.read_header(again).uuid == swap_uuid
    again.verify()
    again.close()
    again.swapfile(False)
    assert mounts_under(str(uswap_dir)) == [] and daemons_under(uswap_dir) == []


@needs_root
def test_a_second_enable_changes_nothing(swap_root: Path, policy: Policy, uswap_dir: Path) -> None:
    first = made(swap_root, policy)
    mounts, daemons = mounts_under(str(uswap_dir)), daemons_under(uswap_dir)
    assert len(mounts) == 1 and daemons == [recorded(first)]
    job = later(first)
    job.swapfile(True)
    assert job.state == first.state
    again = _provisioning(swap_root, policy, first.owner)
    again.state = dict(first.state)
    again.swapfile(True)
    assert again.state == first.state
    assert mounts_under(str(uswap_dir)) == mounts and daemons_under(uswap_dir) == daemons
    job.swapfile(False)


@needs_root
def test_what_a_crash_left_unrecorded_is_found_again(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    first = made(swap_root, policy)
    # The daemon started and the loop device attached, and the job died before saving them.
    lost = _provisioning(swap_root, policy, first.owner)
    lost.state = {"store": first.record}
    lost.swapfile(True)
    for key in ("device", "mountpoint", "daemon"):
        assert lost.state[key] == first.state[key]
    assert daemons_under(uswap_dir) == [recorded(first)]
    lost.swapfile(False)


@needs_root
def test_a_mount_point_in_use_is_refused_and_nothing_is_started(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = _provisioning(swap_root, policy)
    plugin.provision_file()  # the store exists; its mount point is named by its inode
    plugin.close()
    st = os.stat(plugin.file_path)
    mp = uswap_dir / f"{st.st_dev}-{st.st_ino}-{plugin.owner}"
    mp.mkdir(parents=True, mode=0o700)
    (mp / "someone's").write_text("kept")
    with pytest.raises(UnsafeError, match="is not empty: uswapd mounts only on an empty one"):
        plugin.swapfile(True)
    assert (mp / "someone's").read_text() == "kept"
    assert daemons_under(uswap_dir) == [] and mounts_under(str(uswap_dir)) == []
    assert not any(f.startswith(str(uswap_dir)) for f in attached_loops().values())


@needs_root
def test_a_daemon_that_does_not_start_leaves_nothing_behind(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = _provisioning(swap_root, policy)
    # A store of no bytes: uswapd refuses its size as bad input (exit 2).
    empty = swap_root / "empty"
    empty.touch(mode=0o600)
    fd = os.open(empty, os.O_RDONLY | os.O_CLOEXEC)
    mp = str(uswap_dir / "bad")
    try:
        with pytest.raises(BackendError) as failed:
            plugin._start(Store(fd, False, str(empty), "file:empty"), mp)
    finally:
        os.close(fd)
    words = failed.value.message
    assert words.startswith("uswapd did not start: it exited with status 2 (bad input); it said: ")
    assert words.endswith(". Nothing was left mounted or running.")
    assert daemons_under(uswap_dir) == [] and daemon.mount_at(mp) is None
    assert not os.path.exists(mp) and "daemon" not in plugin.state


@needs_root
def test_a_daemon_not_ready_by_the_watchdog_is_killed_and_its_mount_taken_down(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    store = swap_root / "store0"
    store.write_bytes(bytes(SIZE))
    mp = uswap_dir / "slow"
    mp.mkdir(parents=True, mode=0o700)
    fd = os.open(store, os.O_RDWR | os.O_CLOEXEC)
    log = os.open(uswap_dir / "slow.log", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        # A deadline no daemon meets: whatever it had done by then (mounted or not) is undone.
        with pytest.raises(daemon.StartFailed, match=r"it gave no ready line within 0 s"):
            daemon.start(
                mountpoint=str(mp),
                store_fd=fd,
                size=SIZE,
                log_fd=log,
                request_timeout=0,
                seconds=1e-6,
            )
    finally:
        os.close(fd)
        os.close(log)
    assert daemons_under(uswap_dir) == [] and daemon.mount_at(str(mp)) is None
