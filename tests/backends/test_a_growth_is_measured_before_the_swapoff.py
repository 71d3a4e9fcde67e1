"""``check_room_for(new_size)`` refuses a growth that cannot fit as ``resize`` would, reading
only: the resize job asks it of an active area before its swapoff, so that a growth with
no room never pushes the area's pages back into RAM for nothing (review 214/6). The loop
kind measures its backing file. A shrink, and a growth that fits, are let through."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import PAGE_SIZE, NoRoomError, SwapBackend
from backends.policy import Policy
from tests.fixtures.host import mounted_image, needs_root
from tests.fixtures.stores import made_loop, provisioned, rebuilt

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20


def _measured(backend: SwapBackend, path: Path) -> None:
    before = path.read_bytes()
    st = os.statvfs(path.parent)
    too_much = 8 * MiB + (st.f_bavail + st.f_blocks) * st.f_frsize
    too_much += -too_much % PAGE_SIZE  # a size the kind takes, which does not fit
    with pytest.raises(NoRoomError, match=f"not enough free space in {path.parent}"):
        backend.check_room_for(too_much)
    backend.check_room_for(4 * MiB)  # a shrink
    backend.check_room_for(16 * MiB)  # a growth that fits
    assert path.stat().st_size == 8 * MiB and path.read_bytes() == before


@pytest.fixture
def disk(scratch: Path) -> Iterator[Path]:
    """A filesystem of the test's own, whose room does not hang on the machine's disk."""
    with mounted_image(scratch, "ext4", size_mb=64) as mnt:
        yield mnt


def test_a_file_growth_is_measured_reading_only(disk: Path) -> None:
    path = disk / "swap0"
    policy = Policy(swap_roots=(disk,))
    with provisioned("file", {"path": str(path)}, size=8 * MiB, policy=policy) as made:
        pass
    with rebuilt(made) as later:
        _measured(later, path)


def test_a_loop_growth_is_measured_on_its_file(disk: Path) -> None:
    made = made_loop(disk, Policy(swap_roots=(disk,)))
    later = rebuilt(made)
    try:
        _measured(later, disk / "swap0")
    finally:
        later.close()
        later.swapfile(False)
