"""fstab sources are checked and compared by the rules findfs and swapon use, the same
ones names.py resolves by: the tags are UUID=, LABEL=, PARTUUID= and PARTLABEL=, spelled in
capitals. ``uuid=...`` names nothing at boot, so writing it is refused with the reason
(nothing written), and it is never taken for the ``UUID=`` of the same value; ``ID=`` is no
tag libblkid evaluates."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import fstab
from backends.errors import ValidationError

VALUE = "5f1e0c2a-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        (f"uuid={VALUE}", "uuid= is not a tag to findfs or swapon, which know only UUID="),
        ("label=swap", "label= is not a tag to findfs or swapon, which know only LABEL="),
        ("ID=ata-disk-part2", "is neither an absolute path nor one of UUID=, LABEL="),
    ],
)
def test_a_tag_findfs_does_not_know_is_refused_and_nothing_written(
    tmp_path: Path, spec: str, says: str
) -> None:
    tab = tmp_path / "fstab"
    tab.write_bytes(b"/swapfile none swap sw 0 0\n")
    with pytest.raises(ValidationError) as e:
        fstab.ensure_entry(tab, spec, priority=None, discard=None)
    assert says in e.value.message
    with pytest.raises(ValidationError):
        fstab.remove_entry(tab, spec)
    assert tab.read_bytes() == b"/swapfile none swap sw 0 0\n"


def test_a_lower_case_tag_is_not_the_same_area_as_the_tag() -> None:
    assert not fstab.same_area(f"uuid={VALUE}", f"UUID={VALUE}")
    assert fstab.same_area(f'UUID="{VALUE}"', f"UUID={VALUE.upper()}")  # UUIDs ignore case
    assert not fstab.same_area("LABEL=Swap", "LABEL=swap")  # labels do not
