"""Mount points were once named by the store's device and inode alone; now the backend's id
is part of the name. A state that still names the old point, where nothing is mounted any
more, names nothing that could be another's: it does not stop the release, which finds and
takes down what is at the new point (review finding: such a backend could never be
released or destroyed, since nothing ever cleared the old name)."""

from __future__ import annotations

import os
from pathlib import Path

from swapadmin_userspace import daemon as uswapd

from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root
from tests.userspace.served import later, made, recorded


@needs_root
def test_an_old_mount_point_with_nothing_there_is_passed_over(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = made(swap_root, policy)
    mp, dev, d = plugin.mountpoint, plugin.device, recorded(plugin)
    assert mp is not None and dev is not None
    st = os.stat(plugin.file_path)
    old = str(uswap_dir / f"{st.st_dev}-{st.st_ino}")
    assert old != mp and uswapd.mount_at(old) is None
    job = later(plugin)
    job.state["mountpoint"] = old
    assert job.mountpoint == mp
    job.swapfile(False)
    assert dev not in attached_loops() and uswapd.mount_at(mp) is None and not d.alive()
    assert "mountpoint" not in job.state
