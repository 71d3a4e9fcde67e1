"""An escaped NUL (``\\000``) in an fstab line ends the name, as mount(8) and swapon(8),
written in C, read it (review 177/3). Kept in the name, it failed every later look at it:
``os.path.realpath`` raises ValueError, which no reader expected, so one such line broke
discover, every health round's fstab check, and persist."""

from __future__ import annotations

from pathlib import Path

from backends import fstab


def test_a_nul_ends_a_field_as_mount_reads_it(tmp_path: Path) -> None:
    table = tmp_path / "fstab"
    table.write_text("/dev/sdb1\\000junk none swap sw 0 0\n")
    assert [e.spec for e in fstab.entries(table)] == ["/dev/sdb1"]
    assert fstab.find_entry(table, "/dev/sdb1") is not None
    assert [n.entry.spec for n in fstab.named_areas(table)] == ["/dev/sdb1"]
