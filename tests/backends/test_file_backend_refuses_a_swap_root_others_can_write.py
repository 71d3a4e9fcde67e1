"""Whoever may rename entries in a directory on the way to a swap file may swap another file
in between a check and a write. So the swap root and every directory below it must be
root's and writable by root alone, sticky or not; a directory above the root must be root's
and writable by others only when sticky (as /tmp and /var/tmp are). Anything else is
refused by name, with the fix, before anything is created or written."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from backends import pageio
from backends.errors import NotOursError, UnsafeError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, rebuilt

pytestmark = [needs_root]

SIZE = 4 * 1024 * 1024


def _new(path: Path, policy: Policy) -> FileBackend:
    return FileBackend(
        {"path": str(path)}, size_bytes=SIZE, policy=policy, provisioning=True, owner="b-1"
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o1777, 0o720], ids=oct)
def test_it_refuses_a_swap_root_others_can_write(
    swap_root: Path, policy: Policy, mode: int
) -> None:
    os.chmod(swap_root, mode)
    with pytest.raises(
        UnsafeError,
        match=rf"{swap_root} \(the swap root\) has mode {mode:o}: others may rename files in "
        rf"it.*chmod go-w {swap_root}",
    ):
        _new(swap_root / "swap0", policy).swapfile(True)
    assert list(swap_root.iterdir()) == []


def test_it_refuses_a_directory_below_the_root_others_can_write(
    swap_root: Path, policy: Policy
) -> None:
    sub = swap_root / "sub"
    sub.mkdir(mode=0o700)
    os.chmod(sub, 0o775)
    with pytest.raises(UnsafeError, match=rf"{sub} \(.+\) has mode 775: others may rename"):
        _new(sub / "swap0", policy).swapfile(True)
    assert list(sub.iterdir()) == []


def test_it_refuses_a_swap_root_someone_else_owns(swap_root: Path, policy: Policy) -> None:
    os.chown(swap_root, 1000, 1000)
    with pytest.raises(UnsafeError, match=rf"{swap_root} is owned by uid 1000, not root"):
        _new(swap_root / "swap0", policy).swapfile(True)
    assert list(swap_root.iterdir()) == []


def test_it_refuses_a_directory_above_the_root_others_can_write(
    scratch: Path, swap_root: Path, policy: Policy
) -> None:
    os.chmod(scratch, 0o777)
    with pytest.raises(
        UnsafeError, match=rf"{scratch} \(a directory above the swap root\) has mode 777"
    ):
        _new(swap_root / "swap0", policy).swapfile(True)
    assert list(swap_root.iterdir()) == []


def test_it_accepts_a_sticky_directory_above_the_root(
    scratch: Path, swap_root: Path, policy: Policy
) -> None:
    os.chmod(scratch, 0o1777)  # as /tmp is
    with _new(swap_root / "swap0", policy) as backend:
        backend.swapfile(True)
    assert (swap_root / "swap0").stat().st_size == SIZE


@pytest.mark.parametrize("mode", [0o770, 0o702], ids=oct)
def test_a_later_job_refuses_to_write_or_remove_its_file_there(
    swap_root: Path, policy: Policy, mode: int
) -> None:
    path = swap_root / "swap0"
    with provisioned("file", {"path": str(path)}, size=SIZE, policy=policy) as made:
        pass
    before = _digest(path)
    os.chmod(swap_root, mode)
    later = rebuilt(made)
    assert isinstance(later, FileBackend)
    with later:
        with pytest.raises(UnsafeError, match="others may rename files in it"):
            pageio.scan(later, patterns=1)
        with pytest.raises(UnsafeError, match="others may rename files in it"):
            later.swapfile(True)
        with pytest.raises(UnsafeError, match="others may rename files in it"):
            later.remove()
    assert _digest(path) == before


def test_a_directory_to_mend_is_not_taken_for_another_store(
    swap_root: Path, policy: Policy
) -> None:
    # Refused, but the name still leads to the file it made: "no longer names this
    # backend's file" (NotOursError) would have the observer call it foreign, a verdict only
    # a thorough look clears, instead of "cannot read the store: … Fix with: chmod".
    path = swap_root / "swap0"
    with provisioned("file", {"path": str(path)}, size=SIZE, policy=policy) as made:
        pass
    os.chmod(swap_root, 0o777)
    refusal = pytest.raises(UnsafeError, match="others may rename files in it")
    with rebuilt(made) as later, refusal as refused:
        later.verify()
    assert not isinstance(refused.value, NotOursError)
