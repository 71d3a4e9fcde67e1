"""Removing a swap file removes the file that was checked, never a name: between the check
(on the descriptor) and the unlink, another file may be renamed into place. ``_unlink_if_same``
moves the name aside atomically, compares what it names with the descriptor, and unlinks it
only when it is the same file; otherwise it puts the name back and refuses. Either way no
name of its own is left behind in the directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backends import safepath
from backends.errors import NotOursError
from backends.plugins import file as file_mod
from backends.plugins.file import _unlink_if_same
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, rebuilt
from tests.ownership.conftest import data_file, digest

pytestmark = [pytest.mark.root, needs_root]


def test_it_leaves_a_file_renamed_into_place_after_the_check(
    swap_root: Path, policy: Policy
) -> None:
    path = swap_root / "s0"
    data_file(path, 1 << 20)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # the file checked
    try:
        other = swap_root / "incoming"
        theirs = data_file(other, 1 << 20)
        inode = other.stat().st_ino
        os.rename(other, path)  # someone's file now has the name
        with (
            safepath.open_parent(str(path), policy.swap_roots) as parent,
            pytest.raises(NotOursError, match="was replaced while it was being removed"),
        ):
            _unlink_if_same(parent, fd, str(path))
        assert path.stat().st_ino == inode and digest(path) == theirs
        assert os.listdir(swap_root) == ["s0"]
    finally:
        os.close(fd)


def test_it_unlinks_the_file_it_checked(swap_root: Path, policy: Policy) -> None:
    path = swap_root / "s0"
    data_file(path, 1 << 20)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with safepath.open_parent(str(path), policy.swap_roots) as parent:
            _unlink_if_same(parent, fd, str(path))
        assert not path.exists() and os.listdir(swap_root) == []
        assert os.fstat(fd).st_nlink == 0
    finally:
        os.close(fd)


def test_remove_leaves_a_file_renamed_into_place_after_its_checks(
    swap_root: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = swap_root / "s0"
    made = provisioned("file", {"path": str(path)}, size=4 << 20, policy=policy)
    made.close()
    other = swap_root / "incoming"
    theirs = data_file(other, 1 << 20)
    inode = other.stat().st_ino
    take_lock = file_mod._lock

    def lock_then_swap(fd: int, where: str) -> None:
        # The file's lock is the last step of remove's checks on the descriptor: whatever
        # the name names after it is not what was checked.
        take_lock(fd, where)
        os.rename(other, path)

    monkeypatch.setattr(file_mod, "_lock", lock_then_swap)
    with pytest.raises(NotOursError, match="was replaced while it was being removed"):
        rebuilt(made).remove()
    assert path.stat().st_ino == inode and digest(path) == theirs
    assert os.listdir(swap_root) == ["s0"]
