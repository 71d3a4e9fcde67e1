"""A loop or zram device exists only while its area is enabled: once released, its absence
is no fault. A block device, or a device of a kind not installed here (which cannot say),
is reported missing. The kind's plugin says which (``device_is_ephemeral``). A device the
look cannot stat (EACCES, EIO; ELOOP here) is no "released" device: its failed stat is
said, whatever the kind (review 161/6)."""

from __future__ import annotations

import uuid

import pytest

from backends import SwapBackend
from backends.plugins.block import BlockBackend
from backends.plugins.file import FileBackend
from backends.plugins.loop import LoopBackend
from backends.plugins.zram import ZramBackend
from backends.registry import Registry
from swapadmin.core.models import Backend
from swapadmin.health import probes


@pytest.mark.parametrize(
    ("kind", "missing_is_a_fault"),
    [("zram", False), ("loop", False), ("block", True), ("not-installed-here", True)],
)
def test_a_missing_device_is_said_as_its_kind_says(kind: str, missing_is_a_fault: bool) -> None:
    gone = f"/dev/swapadmin-test-{uuid.uuid4().hex}"  # a name no device has
    row = Backend(kind=kind, name="a", params={}, info={"swap_path": gone})
    [finding] = probes.check_store(probes.Target(row, None, gone, None))
    assert (finding.status == "fail") == missing_is_a_fault
    if missing_is_a_fault:
        assert f"the swap device {gone} does not exist" in finding.message


@pytest.mark.parametrize("kind", ["zram", "loop", "block"])
def test_a_device_the_look_cannot_stat_is_said_not_passed_over(
    kind: str, unstattable_device: str
) -> None:
    row = Backend(kind=kind, name="a", params={}, info={"swap_path": unstattable_device})
    [finding] = probes.check_store(probes.Target(row, None, unstattable_device, None))
    assert finding.status == "fail"
    assert finding.message == f"cannot stat {unstattable_device}: Too many levels of symbolic links"


@pytest.mark.parametrize(
    ("cls", "ephemeral"),
    [(FileBackend, False), (BlockBackend, False), (LoopBackend, True), (ZramBackend, True)],
)
def test_each_built_in_kind_says(cls: type[SwapBackend], ephemeral: bool) -> None:
    assert cls.device_is_ephemeral is ephemeral


def test_a_flag_that_is_not_a_plain_boolean_is_refused() -> None:
    class Computed(FileBackend):
        name = "computed"
        label = "Computed"
        device_is_ephemeral = 1  # type: ignore[assignment]

    with pytest.raises(TypeError, match="device_is_ephemeral must be a class attribute"):
        Registry().register(Computed)
