"""runall closes the data directory before it starts anyone (``runas.tighten``): what an older
swapadmin left (0755, files 0644, all root's) becomes 0700 and 0600 and the web account's.

Root does this in a directory the web account can write, so the account could have planted
links there: a symbolic link to a file or a directory elsewhere, a hard link to a root
file. None of them makes root change anything outside the data directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from swapadmin.core.runas import Account, tighten
from tests.fixtures.host import needs_root

pytestmark = [needs_root]

WEB = Account("web", 23456, 23456, "/nonexistent")
SOMEONE_ELSE = 34567


def mode(p: Path) -> int:
    return stat.S_IMODE(p.lstat().st_mode)


def test_an_old_data_dir_is_closed_and_handed_to_the_web_account(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "broker" / "out").mkdir(parents=True)
    for name in ("secret_key", "swapadmin.sqlite3", "broker/out/1.msg"):
        (data / name).write_text("secret")
    theirs = data / "left-by-someone-else"
    theirs.write_text("x")
    os.chown(theirs, SOMEONE_ELSE, SOMEONE_ELSE)
    for p in [data, *data.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)

    assert tighten(data, WEB) == []

    for p in [data, *data.rglob("*")]:
        assert mode(p) == (0o700 if p.is_dir() else 0o600), p
        want = SOMEONE_ELSE if p == theirs else WEB.uid
        assert p.stat().st_uid == want, p  # root's handed over; another user's left as it is


def test_without_an_account_only_the_modes_change(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "secret_key").write_text("secret")
    (data / "secret_key").chmod(0o644)
    assert tighten(data, None) == []
    assert (mode(data), mode(data / "secret_key")) == (0o700, 0o600)
    assert (data / "secret_key").stat().st_uid == 0


def test_links_planted_by_the_web_account_change_nothing_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    target, in_dir, linked = outside / "passwd", outside / "dir" / "f", outside / "shadow"
    for p in (target, in_dir, linked):
        p.write_text("root's")
        p.chmod(0o644)
    outside.chmod(0o755)
    (outside / "dir").chmod(0o755)

    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "secret_key").symlink_to(target)
    (data / "broker").symlink_to(outside / "dir")
    os.link(linked, data / "swapadmin.sqlite3")

    tighten(data, WEB)

    for p in (outside, outside / "dir", target, in_dir, linked):
        assert (p.stat().st_uid, mode(p)) == (0, 0o755 if p.is_dir() else 0o644), p
    assert (data / "secret_key").is_symlink() and (data / "broker").is_symlink()
    assert data.stat().st_uid == WEB.uid and mode(data) == 0o700
