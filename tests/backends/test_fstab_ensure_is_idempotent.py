"""ensure_entry twice changes nothing the second time, and one area never gets two lines."""

from __future__ import annotations

import os
from pathlib import Path

from backends import fstab
from tests.backends.samples import make_swapfile


def test_it_reports_no_change_and_leaves_the_file_alone(scratch: Path) -> None:
    tab = scratch / "fstab"
    area = make_swapfile(scratch, size="1M")
    assert fstab.ensure_entry(tab, str(area), priority=7, discard="pages", label="a")
    before = tab.stat()
    assert not fstab.ensure_entry(tab, str(area), priority=7, discard="pages", label="a")
    after = tab.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_it_leaves_a_hand_written_equivalent_line_as_it_is(scratch: Path) -> None:
    tab = scratch / "fstab"
    area = make_swapfile(scratch, size="1M")
    tab.write_text(f"{area}   swap   swap   defaults,pri=4,nofail   0 0\n")
    assert not fstab.ensure_entry(tab, str(area), priority=4, discard=None)


def test_it_updates_the_line_in_place_when_options_change(scratch: Path) -> None:
    tab = scratch / "fstab"
    area = make_swapfile(scratch, size="1M")
    other = make_swapfile(scratch, "other.swap", "1M")
    fstab.ensure_entry(tab, str(area), priority=1, discard=None)
    fstab.ensure_entry(tab, str(other), priority=1, discard=None)
    assert fstab.ensure_entry(tab, str(area), priority=2, discard="once")
    first, second = fstab.entries(tab)
    assert (first.spec, first.priority, first.discard) == (str(area), 2, "once")
    assert second.spec == str(other)


def test_it_merges_lines_naming_the_same_file_another_way(scratch: Path) -> None:
    tab = scratch / "fstab"
    area = make_swapfile(scratch, size="1M")
    link = scratch / "link.swap"
    link.symlink_to(area)
    tab.write_text(
        f"# keep me\n{link} none swap sw 0 0\n/srv/keep none swap sw 0 0\n"
        f"{scratch}//./{area.name} none swap sw,pri=9 0 0\n"
    )
    assert fstab.ensure_entry(tab, str(area), priority=3, discard=None)
    assert [(e.spec, e.priority) for e in fstab.entries(tab)] == [
        (str(area), 3),
        ("/srv/keep", None),
    ]
    assert tab.read_text().startswith("# keep me\n")


def test_it_drops_noauto_so_the_area_comes_up_at_boot(scratch: Path) -> None:
    tab = scratch / "fstab"
    area = make_swapfile(scratch, size="1M")
    tab.write_text(f"{area} none swap sw,noauto,x-systemd.makefs 0 0\n")
    assert fstab.ensure_entry(tab, str(area), priority=None, discard=None)
    (entry,) = fstab.entries(tab)
    assert entry.options == ("sw", "x-systemd.makefs")


def test_it_matches_tags_however_they_are_quoted(scratch: Path) -> None:
    tab = scratch / "fstab"
    tab.write_text('UUID="5f1e0c2a-0000-4000-8000-000000000001" none swap sw 0 0\n')
    spec = "UUID=5f1e0c2a-0000-4000-8000-000000000001"
    assert fstab.find_entry(tab, spec) is not None
    assert fstab.ensure_entry(tab, spec, priority=2, discard=None)
    assert tab.read_text() == f"{spec}\tnone\tswap\tsw,pri=2\t0\t0\n"


def test_it_moves_the_label_comment_with_its_line(scratch: Path) -> None:
    tab = scratch / "fstab"
    area = make_swapfile(scratch, size="1M")
    fstab.ensure_entry(tab, str(area), priority=None, discard=None, label="old")
    assert fstab.ensure_entry(tab, str(area), priority=None, discard=None, label="new")
    assert tab.read_text().splitlines()[0] == "# swapadmin: new"
    assert fstab.ensure_entry(tab, str(area), priority=None, discard=None)
    assert not tab.read_text().startswith("#")
    assert os.path.exists(tab)
