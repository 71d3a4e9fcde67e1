"""A kind says how the fstab names its areas (``SwapBackend.fstab_spec``); a third party's
kind may spell it in a way no path or UUID of the row gives (a ``PARTLABEL=``, say). The
fstab probe looks for that spelling too: a line it wrote is found, and one left after
persist was turned off is said, not taken for no line at all. The spelling may be shared
with another area, so a line found by it alone counts only when it leads nowhere on this
host or to this area, and asks no repair that would remove it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from backends import fstab
from backends.plugins.file import FileBackend
from swapadmin.core.models import Backend
from swapadmin.health import probes

SPEC = "PARTLABEL=tenant-swap"


class Labelled(FileBackend):
    name = "labelled"
    label = "Labelled"

    @classmethod
    def fstab_spec(cls, params: Any, swap_uuid: str | None) -> str | None:
        return SPEC


class Broken(FileBackend):
    name = "broken"
    label = "Broken"

    @classmethod
    def fstab_spec(cls, params: Any, swap_uuid: str | None) -> str | None:
        raise KeyError("device")


def finding(
    cls: type[FileBackend], persist: bool, tmp_path: Path, leads_to: Any = None
) -> probes.Finding:
    plugin = cls.__new__(cls)  # only its class and params are asked
    plugin.params = {"path": str(tmp_path / "a.swap")}
    row = Backend(kind="file", name="a", params=plugin.params, swap_uuid=uuid.uuid4())
    row.persist = persist
    line = fstab.FstabEntry(SPEC, "none", "swap", ("sw",), 0, 0, line_no=3)
    named = [fstab.Named(line, leads_to)]  # None: a tag that leads nowhere on this host
    target = probes.Target(row, plugin, str(tmp_path / "a.swap"), None)
    [found] = probes.check_fstab(target, tmp_path / "fstab", named)
    return found


def test_the_kinds_own_line_is_found(tmp_path: Path) -> None:
    found = finding(Labelled, True, tmp_path)
    assert found.status == "ok" and found.value["lines"] == [3]


def test_a_line_left_after_persist_was_turned_off_is_said_but_not_repaired(
    tmp_path: Path,
) -> None:
    # The kind's spelling may be shared with another area: a repair would remove that
    # area's line. The person is told.
    found = finding(Labelled, False, tmp_path)
    assert found.status == "warn" and "repair" not in found.value
    assert f"({SPEC}, line 3)" in found.message


def test_a_line_in_the_kinds_spelling_that_leads_to_another_area_is_not_its(
    tmp_path: Path,
) -> None:
    found = finding(Labelled, True, tmp_path, leads_to=("block", 8, 17))
    assert found.value["lines"] == [] and found.value["repair"] == "persist"


def test_a_hook_that_fails_leaves_the_other_spellings(tmp_path: Path) -> None:
    found = finding(Broken, True, tmp_path)
    assert found.value["lines"] == [] and found.value["repair"] == "persist"
