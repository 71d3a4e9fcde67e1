"""What ensure_entry writes, util-linux reads back: findmnt --verify finds no error, and
findmnt shows the same source and options."""

from __future__ import annotations

import subprocess
from pathlib import Path

from backends import fstab
from tests.backends.samples import make_swapfile


def _verify(tab: Path) -> str:
    done = subprocess.run(
        ["findmnt", "--verify", "--verbose", "--tab-file", str(tab)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 parse errors, 0 errors" in done.stdout + done.stderr
    return done.stdout


def _findmnt(tab: Path) -> list[tuple[str, str]]:
    out = subprocess.run(
        ["findmnt", "--tab-file", str(tab), "--raw", "--noheadings", "-o", "SOURCE,OPTIONS"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = [line.split(" ") for line in out.splitlines()]
    # --raw escapes spaces as \x20
    return [(src.replace("\\x20", " "), opts) for src, opts in rows]


def test_it_writes_lines_findmnt_accepts(scratch: Path) -> None:
    tab = scratch / "fstab"
    tab.write_text("# <file system> <mount point> <type> <options> <dump> <pass>\n")
    plain = make_swapfile(scratch, "plain.swap", "1M")
    spaced = make_swapfile(scratch, "with space.swap", "1M")
    once = make_swapfile(scratch, "once.swap", "1M")
    assert fstab.ensure_entry(tab, str(plain), priority=None, discard=None)
    assert fstab.ensure_entry(tab, str(spaced), priority=10, discard="both", label="fast one")
    assert fstab.ensure_entry(tab, str(once), priority=32767, discard="once")
    _verify(tab)
    assert _findmnt(tab) == [
        (str(plain), "sw"),
        (str(spaced), "sw,pri=10,discard"),
        (str(once), "sw,pri=32767,discard=once"),
    ]


def test_it_reads_back_what_it_wrote(scratch: Path) -> None:
    tab = scratch / "fstab"
    spaced = make_swapfile(scratch, "with\tspace and\\slash.swap", "1M")
    fstab.ensure_entry(tab, str(spaced), priority=3, discard="pages")
    _verify(tab)
    (entry,) = fstab.entries(tab)
    assert (entry.spec, entry.file, entry.vfstype) == (str(spaced), "none", "swap")
    assert (entry.priority, entry.discard, entry.line_no) == (3, "pages", 1)
    assert fstab.find_entry(tab, str(spaced)) == entry
