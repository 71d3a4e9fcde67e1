"""Every line that is not the area's own survives byte for byte, and so do the file's
mode, owner and the symlink that may point to it."""

from __future__ import annotations

import os
from pathlib import Path

from backends import fstab
from tests.backends.samples import make_swapfile

ORIGINAL = (
    b"# /etc/fstab: static file system information.\n"
    b"#\n"
    b"UUID=0a1b-2c3d   /          ext4    errors=remount-ro 0       1\n"
    b"\n"
    b"   # an indented comment with a latin-1 byte: \xe9\n"
    b"/dev/vdb1\t/srv\txfs\tdefaults,nofail\t0\t2\n"
    b"tmpfs /tmp tmpfs size=1G 0 0"  # no final newline
)


def test_it_restores_the_file_exactly_after_add_and_remove(scratch: Path) -> None:
    tab = scratch / "fstab"
    tab.write_bytes(ORIGINAL + b"\n")
    area = make_swapfile(scratch, size="1M")
    assert fstab.ensure_entry(tab, str(area), priority=5, discard="both", label="x")
    assert fstab.remove_entry(tab, str(area))
    assert tab.read_bytes() == ORIGINAL + b"\n"


def test_a_file_without_final_newline_gains_only_that(scratch: Path) -> None:
    tab = scratch / "fstab"
    tab.write_bytes(ORIGINAL)
    area = make_swapfile(scratch, size="1M")
    assert fstab.ensure_entry(tab, str(area), priority=5, discard=None, label="test area")
    data = tab.read_bytes()
    assert data.startswith(ORIGINAL + b"\n# swapadmin: test area\n")
    assert data.endswith(b"\tnone\tswap\tsw,pri=5\t0\t0\n")
    assert fstab.remove_entry(tab, str(area))
    # Appending had to end the old last line; after removal nothing records that it lacked one.
    assert tab.read_bytes() == ORIGINAL + b"\n"


def test_it_changes_only_its_own_line_in_the_middle(scratch: Path) -> None:
    tab = scratch / "fstab"
    area = make_swapfile(scratch, size="1M")
    before = b"# head\n%s  none  swap  sw,nofail,pri=1  0 0\n# tail  \n" % str(area).encode()
    tab.write_bytes(before)
    assert fstab.ensure_entry(tab, str(area), priority=2, discard="once")
    assert tab.read_bytes() == (
        b"# head\n%s\tnone\tswap\tsw,nofail,pri=2,discard=once\t0\t0\n# tail  \n"
        % str(area).encode()
    )


def test_it_keeps_mode_and_owner(scratch: Path) -> None:
    tab = scratch / "fstab"
    tab.write_bytes(ORIGINAL)
    os.chmod(tab, 0o640)
    os.chown(tab, 1234, 5678)
    fstab.ensure_entry(tab, str(make_swapfile(scratch, size="1M")), priority=None, discard=None)
    st = tab.stat()
    assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (0o640, 1234, 5678)
    assert [p.name for p in scratch.iterdir() if p.name.startswith(".fstab")] == []


def test_it_keeps_a_symlinked_fstab_a_symlink(scratch: Path) -> None:
    real = scratch / "real-fstab"
    real.write_bytes(ORIGINAL)
    link = scratch / "fstab"
    link.symlink_to(real)
    area = make_swapfile(scratch, size="1M")
    fstab.ensure_entry(link, str(area), priority=None, discard=None)
    assert link.is_symlink()
    assert fstab.find_entry(real, str(area)) is not None


def test_it_creates_a_missing_file(scratch: Path) -> None:
    tab = scratch / "fstab"
    area = make_swapfile(scratch, size="1M")
    assert fstab.ensure_entry(tab, str(area), priority=None, discard=None)
    assert tab.read_text() == f"{area}\tnone\tswap\tsw\t0\t0\n"
    assert tab.stat().st_mode & 0o7777 == 0o644
