"""The release looks at every loop device's name in sysfs to find those over its mount,
and the daemon's side reads mountinfo to find its own. A name that is not UTF-8 (any root
tool may attach such a file, any user may mount FUSE so named; here the test's own) is
passed over as not under the mount and left as it is. The sysfs half held since the names
were read as bytes (d97bf63); the mountinfo half, and the tests' own take-down readers,
failed every release with an error of no kind before."""

from __future__ import annotations

import os
from pathlib import Path

from swapadmin_userspace import daemon as uswapd

from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root, run
from tests.userspace.served import later, made, recorded


@needs_root
def test_a_release_passes_over_a_loop_device_and_a_mount_so_named(
    swap_root: Path, policy: Policy, uswap_dir: Path, scratch: Path
) -> None:
    plugin = made(swap_root, policy)
    mp, dev, d = plugin.mountpoint, plugin.device, recorded(plugin)
    assert mp is not None and dev is not None
    odd = Path(os.fsdecode(os.path.join(os.fsencode(scratch), b"odd-\xff")))
    odd.mkdir(mode=0o700)
    disk, mnt = odd / "disk", odd / "mnt"
    run("fallocate", "-l", "1M", str(disk))
    mnt.mkdir()
    stranger = run("losetup", "--find", "--show", str(disk)).stdout.strip()
    try:
        run("mount", "-t", "tmpfs", "-o", "size=1m", "swapadmin-test", str(mnt))
        try:
            assert attached_loops()[stranger] == str(disk)
            assert [m.fstype for m in uswapd.mounts() if m.mountpoint == str(mnt)] == ["tmpfs"]
            later(plugin).swapfile(False)
            assert dev not in attached_loops() and uswapd.mount_at(mp) is None
            assert not d.alive()
            assert attached_loops()[stranger] == str(disk) and os.path.ismount(mnt)
        finally:
            run("umount", str(mnt), check=False)
    finally:
        run("losetup", "-d", stranger, check=False)
