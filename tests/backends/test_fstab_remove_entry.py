"""remove_entry takes out the area's lines and its label, and is a no-op when there are none."""

from __future__ import annotations

from pathlib import Path

from backends import fstab
from tests.backends.samples import make_swapfile


def test_it_removes_every_line_for_the_area_and_its_label(scratch: Path) -> None:
    tab = scratch / "fstab"
    area = make_swapfile(scratch, size="1M")
    link = scratch / "link"
    link.symlink_to(area)
    tab.write_text(f"# mine\n# swapadmin: lbl\n{area} none swap sw 0 0\n{link} none swap sw 0 0\n")
    assert fstab.remove_entry(tab, str(area))
    assert tab.read_text() == "# mine\n"


def test_it_reports_no_change_when_there_is_nothing_to_remove(scratch: Path) -> None:
    tab = scratch / "fstab"
    assert not fstab.remove_entry(tab, "/nowhere")
    assert not tab.exists()
    tab.write_text("/dev/vdb1 /srv xfs defaults 0 2\n/nowhere /mnt ext4 defaults 0 0\n")
    before = tab.stat()
    assert not fstab.remove_entry(tab, "/nowhere")  # a mount, not swap: not ours to remove
    assert tab.stat().st_mtime_ns == before.st_mtime_ns
