"""A store file deleted by hand while its daemon serves it is still this backend's: the
daemon holds its inode open (so no later file can take that number), and the mark on it
names this backend. Its removal is refused while it is served; its release takes down the
loop device, the mount and the daemon, proved through the file the daemon holds (review
finding: such a backend could never be destroyed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from swapadmin_userspace import daemon as uswapd

from backends.errors import ActiveAreaError
from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root
from tests.userspace.served import later, made, recorded


@needs_root
def test_a_store_deleted_while_served_is_refused_removal_then_released(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = made(swap_root, policy)
    mp, dev, d = plugin.mountpoint, plugin.device, recorded(plugin)
    assert mp is not None and dev is not None
    os.unlink(plugin.file_path)

    with pytest.raises(ActiveAreaError, match="still served by uswapd"):
        later(plugin).remove()
    assert d.alive() and uswapd.mount_at(mp) is not None and dev in attached_loops()

    job = later(plugin)
    job.swapfile(False)
    assert dev not in attached_loops()
    assert uswapd.mount_at(mp) is None and not d.alive()
    assert "daemon" not in job.state and "device" not in job.state
