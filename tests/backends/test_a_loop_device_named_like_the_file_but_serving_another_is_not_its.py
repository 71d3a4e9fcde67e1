"""A loop device that sysfs names by the backend's path but that serves another file is not
the backend's own.

When a crash lost the backend's record of its device (between attaching and saving), its
own device is found again as the one that serves its file. sysfs names a loop device's
file by path, and a path can name two files: here a swap root over-mounted since the first
was attached, which sysfs still shows by the path it had. Any device named by the path was
taken for the backend's own, exempted from the check that no other loop device reaches the
file; while one of them served the file for real, the one named first was exempted, and the
backend's own device refused as another's. Now the device must serve the file's very inode
(the device and inode LOOP_GET_STATUS64 gives), as a reused device already had to.

All real: a file attached by hand, a bind mount over the swap root, the backend's own file
and loop device on top of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import header
from backends.plugins.loop import LoopBackend
from backends.policy import Policy
from tests.backends.test_cli_inspect_reads_headers import allocated
from tests.fixtures.by_hand import attached
from tests.fixtures.host import attached_loops, needs_root, run

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20


@pytest.fixture
def shadowed(swap_root: Path, scratch: Path) -> Iterator[str]:
    """A loop device over a file at ``swap_root/swap0``, then another directory mounted over
    the swap root, hiding that file: yields the device, which sysfs still names by the path."""
    hidden = allocated(swap_root / "swap0")
    upper = scratch / "upper"
    upper.mkdir(mode=0o700)
    with attached(hidden) as dev:
        run("mount", "--bind", str(upper), str(swap_root))
        try:
            assert attached_loops()[dev] == str(swap_root / "swap0")
            assert not (swap_root / "swap0").exists()
            yield dev
        finally:
            run("umount", str(swap_root))


def _loop(swap_root: Path, policy: Policy, owner: str, **kw: object) -> LoopBackend:
    return LoopBackend(
        {"path": str(swap_root / "swap0")}, size_bytes=8 * MiB, policy=policy, owner=owner, **kw
    )  # type: ignore[arg-type]


def test_a_device_serving_the_hidden_file_is_not_its(
    shadowed: str, swap_root: Path, policy: Policy
) -> None:
    owner = str(uuid.uuid4())
    made = _loop(swap_root, policy, owner, provisioning=True)
    made.swapfile(True)
    header.mkswap(made)
    made.close()
    ours = made.state["device"]
    try:
        assert ours != shadowed
        made.swapfile(False)
        assert "device" not in made.state and ours not in attached_loops()
        # No device serves its file now; the one only named like it is not its own.
        assert made._own_loop_device() is None

        # Attached again, and the record of it lost in a crash: the device serving the
        # very file is its own, whichever of the two sysfs lists first.
        made.swapfile(True)
        ours = made.state["device"]
        lost = _loop(swap_root, policy, owner, state={"store": made.record})
        assert lost._own_loop_device() == ours
        again = _loop(swap_root, policy, owner, state={"store": made.record}, provisioning=True)
        again.swapfile(True)  # the provision run again takes the file and finds its device
        assert again.state["device"] == ours
        assert attached_loops()[shadowed] == str(swap_root / "swap0")  # left as it was
    finally:
        made.swapfile(False)
    assert ours not in attached_loops() or attached_loops()[ours] != str(swap_root / "swap0")
