"""A user-space backend whose store can no longer be proven (deleted by hand, its mark
gone) releases nothing at the mount point its record derives: that point is named by the
store's device and inode, which the filesystem gives again to a later file, so another
backend's store may be served there now. Its loop devices stay attached, its daemon runs;
the release says why it touched nothing, and with nothing mounted there it simply forgets
(review finding: the loop devices over that mount were detached first)."""

from __future__ import annotations

from pathlib import Path

import pytest
from swapadmin_userspace import daemon as uswapd
from swapadmin_userspace.plugin import UserspaceBackend

from backends.errors import NotOursError
from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root
from tests.userspace.served import later, made, recorded


@needs_root
def test_a_release_whose_store_is_gone_leaves_the_mount_its_key_names(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    served = made(swap_root, policy, "served")
    mp, dev, d = served.mountpoint, served.device, recorded(served)
    assert mp is not None and dev is not None
    # A backend whose store file is gone, and whose recorded key the filesystem has since
    # given to the served backend's store (as an inode number is reused).
    gone = UserspaceBackend(
        {"path": str(swap_root / "deleted-by-hand")},
        size_bytes=served.size_bytes,
        policy=policy,
        state={"store": served.record},
        owner="another-backend",
    )
    with pytest.raises(NotOursError) as refused:
        gone.swapfile(False)
    assert dev in attached_loops() and uswapd.mount_at(mp) is not None and d.alive()
    assert mp in refused.value.message and "left as they are" in refused.value.message

    # Nothing mounted there any more: the release forgets, and touches nothing.
    later(served).swapfile(False)
    gone.swapfile(False)
    assert gone.mountpoint is not None and uswapd.mount_at(gone.mountpoint) is None
    assert "daemon" not in gone.state and "device" not in gone.state
