"""An fstab line's escapes are read as mount(8) and swapon(8), written in C, read them: each
into the byte it names, and a NUL ends the name (reviews 177/3, 179/2). Kept in the name,
a NUL failed every later look at it (``os.path.realpath`` raises ValueError, which no
reader expected), so one such line broke discover, every health round's fstab check and
persist; and a character per escape read "\\303\\251" as "Ã©", not "é", so a sysadmin's
line written so was never found again (a destroy left it behind, a persist added a
second)."""

from __future__ import annotations

from pathlib import Path

from backends import fstab


def test_a_nul_ends_a_field_as_mount_reads_it(tmp_path: Path) -> None:
    table = tmp_path / "fstab"
    table.write_text("/dev/sdb1\\000junk none swap sw 0 0\n")
    assert [e.spec for e in fstab.entries(table)] == ["/dev/sdb1"]
    assert fstab.find_entry(table, "/dev/sdb1") is not None
    assert [n.entry.spec for n in fstab.named_areas(table)] == ["/dev/sdb1"]


def test_escapes_are_bytes_as_c_reads_them(tmp_path: Path) -> None:
    table = tmp_path / "fstab"
    table.write_text(
        "/swap/\\303\\251 none swap sw 0 0\n"  # UTF-8 "é", escaped byte by byte
        "/swap/a\\400x none swap sw 0 0\n"  # 0o400 is 256: the byte 0 in a C char
        "/swap/\\377 none swap sw 0 0\n"  # a byte that is no UTF-8: as os names decode it
        "/swap/t none sw\\141p sw 0 0\n"  # the type is read so too
    )
    assert [e.spec for e in fstab.entries(table)] == [
        "/swap/é",
        "/swap/a",
        "/swap/\udcff",
        "/swap/t",
    ]
    assert fstab.find_entry(table, "/swap/é") is not None
