"""A user-space backend whose store can no longer be proven (deleted by hand, its mark
gone) releases nothing that another backend serves. The filesystem gives a deleted store's
inode number to a later file, so the record's device and inode may name another backend's
store now: the mount point is named by them *and* by the backend's own id, so the two never
share one (review finding: the loop devices over the other's mount were detached). With
nothing mounted at its own point, the release forgets its state, and touches nothing its
state names that is not proven its own."""

from __future__ import annotations

from pathlib import Path

from swapadmin_userspace import daemon as uswapd
from swapadmin_userspace.plugin import UserspaceBackend

from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root
from tests.userspace.served import made, recorded


@needs_root
def test_a_release_whose_key_names_another_store_touches_nothing_of_it(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    served = made(swap_root, policy, "served")
    mp, dev, d = served.mountpoint, served.device, recorded(served)
    assert mp is not None and dev is not None

    def gone(state: dict[str, object]) -> UserspaceBackend:
        # A backend whose store file is gone, and whose recorded key the filesystem has
        # since given to the served backend's store (as an inode number is reused).
        return UserspaceBackend(
            {"path": str(swap_root / "deleted-by-hand")},
            size_bytes=served.size_bytes,
            policy=policy,
            state={"store": {**served.record, "owner": "another-backend"}, **state},
            owner="another-backend",
        )

    def untouched() -> None:
        assert dev in attached_loops() and uswapd.mount_at(mp) is not None and d.alive()

    forgotten = gone({})
    assert forgotten.mountpoint not in (None, mp)
    forgotten.swapfile(False)
    untouched()
    assert "daemon" not in forgotten.state and "device" not in forgotten.state

    # A state naming the other backend's daemon and loop device (a row written elsewhere):
    # neither is this backend's (the daemon's file carries the other's mark, the device
    # serves the other's mount), so both are forgotten, and neither is touched.
    naming = gone({"device": dev, "daemon": d.to_state()})
    naming.swapfile(False)
    untouched()
    assert "daemon" not in naming.state and "device" not in naming.state
