"""What the control plane used to tell apart by ``if kind == ...`` each kind's plugin class
says itself: how an fstab line names its area (or that none can), whether it may persist,
and the size of an area of it that exists already (read when swapadmin adopts one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import SwapBackend
from backends.plugins.block import BlockBackend
from backends.plugins.file import FileBackend
from backends.plugins.loop import LoopBackend
from backends.plugins.zram import ZramBackend
from backends.registry import Registry

UUID = "0b5c3a1e-8d2f-4c6a-9e1b-2f3d4c5b6a7e"


@pytest.mark.parametrize(
    ("cls", "params", "swap_uuid", "spec"),
    [
        (FileBackend, {"path": "/srv/swap/a.swap"}, UUID, "/srv/swap/a.swap"),
        # A device's name can change between boots; its swap UUID cannot.
        (BlockBackend, {"device": "/dev/sdb1"}, UUID, f"UUID={UUID}"),
        (BlockBackend, {"device": "/dev/sdb1"}, None, "/dev/sdb1"),
        # Nothing attaches the loop device or adds the zram device again at boot.
        (LoopBackend, {"path": "/srv/swap/l.swap"}, UUID, None),
        (ZramBackend, {}, UUID, None),
        (SwapBackend, {}, UUID, None),  # a third party's kind says nothing unless it knows
    ],
)
def test_the_fstab_names_an_area_as_its_kind_says(
    cls: type[SwapBackend], params: dict[str, str], swap_uuid: str | None, spec: str | None
) -> None:
    assert cls.fstab_spec(params, swap_uuid) == spec
    assert cls.persistable == (spec is not None)


def test_a_file_and_a_loop_device_are_as_big_as_their_file(tmp_path: Path) -> None:
    backing = tmp_path / "backing.swap"
    backing.write_bytes(b"\0" * 12288)
    assert FileBackend.existing_size(str(backing), {"path": str(backing)}) == 12288
    # The loop kind reads its backing file, named by its params, not the device's path.
    assert LoopBackend.existing_size("/dev/loop-not-read", {"path": str(backing)}) == 12288
    assert BlockBackend.existing_size("/dev/sdb1", {"device": "/dev/sdb1"}) is None


def test_a_size_that_cannot_be_read_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        FileBackend.existing_size(str(tmp_path / "gone"), {})
    with pytest.raises(FileNotFoundError):
        ZramBackend.existing_size("/dev/zram-not-a-device", {})


def test_a_kind_whose_flags_are_not_plain_booleans_is_refused() -> None:
    class Computed(FileBackend):
        name = "computed"
        label = "Computed"

        @property
        def persistable(self) -> bool:  # type: ignore[override]
            return False  # read on the class, a property object: "True"

    with pytest.raises(TypeError, match="persistable must be a class attribute"):
        Registry().register(Computed)
