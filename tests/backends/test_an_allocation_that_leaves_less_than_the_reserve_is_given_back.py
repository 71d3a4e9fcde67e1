"""The room a swap file keeps free is measured again once the file is allocated: two
allocations on one filesystem that each found room before either took it could together
leave less than the reserve (review 199/3). The one that finds the reserve gone gives its
bytes back and refuses, naming the figures; nothing of it is left.

The other write is a real one, made at the worst moment: just before this file's
fallocate, after its room was found."""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backends.errors import KernelError, UnsafeError
from backends.plugins import file as file_module
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import mounted_image, needs_root
from tests.fixtures.stores import provisioned, rebuilt

MiB = 1 << 20
KEPT = 10  # percent: a reserve of 6.4 MiB on the 64 MiB filesystem, room to measure in


def _free(mnt: Path) -> int:
    st = os.statvfs(mnt)
    return st.f_bavail * st.f_frsize


@pytest.fixture
def disk(scratch: Path) -> Iterator[Path]:
    with mounted_image(scratch, "ext4", size_mb=64) as mnt:
        yield mnt


def _another_write_takes_room_first(
    monkeypatch: pytest.MonkeyPatch, mnt: Path, growth: int
) -> list[int]:
    """Before the next fallocate, another file takes all the room but half the reserve
    less the ``growth`` the fallocate makes: each fits alone, the two do not. Gives the
    free bytes seen just before the fallocate ran, to compare after."""
    allocate = file_module._allocate
    seen: list[int] = []

    def after_another_write(fd: int, path: str, size: int) -> None:
        if not seen:
            reserve = os.statvfs(mnt).f_blocks * os.statvfs(mnt).f_frsize * KEPT // 100
            other = os.open(mnt / "other-write", os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(other, 0, _free(mnt) - growth - reserve // 2)
            finally:
                os.close(other)
            seen.append(_free(mnt))
        allocate(fd, path, size)

    monkeypatch.setattr(file_module, "_allocate", after_another_write)
    return seen


def _new_file(path: Path, disk: Path) -> FileBackend:
    backend = FileBackend(
        {"path": str(path)}, size_bytes=16 * MiB, policy=Policy(swap_roots=(disk,)),
        provisioning=True, owner=str(uuid.uuid4()),
    )  # fmt: skip
    backend.keep_free(KEPT, ", kept free for the test")
    return backend


def unfinished(path: Path, kept: float) -> Callable[[int], FileBackend]:
    """A file a backend made at ``path`` and never formatted, all 4 MiB of it holes, as a
    file someone truncated (fallocate fills them too: 199/2); a factory of that backend's
    provisions at a size, each keeping ``kept`` percent of the filesystem free."""
    owner = str(uuid.uuid4())

    def provision(size: int) -> FileBackend:
        b = FileBackend(
            {"path": str(path)}, size_bytes=size, policy=Policy(swap_roots=(path.parent,)),
            provisioning=True, owner=owner,
        )  # fmt: skip
        b.keep_free(kept, ", kept free for the test")
        return b

    with provision(4 * MiB) as first:
        first.swapfile(True)  # made, never formatted: unfinished
    fd = os.open(path, os.O_RDWR)
    try:
        os.truncate(fd, 0)
        os.truncate(fd, 4 * MiB)
    finally:
        os.close(fd)
    return provision


def _refused(refusal: pytest.ExceptionInfo[UnsafeError], path: Path) -> None:
    said = refusal.value.message
    assert f"not enough free space in {path.parent} once {path} was allocated" in said, said
    assert f"({KEPT}% of the filesystem, kept free for the test) in reserve" in said, said
    assert "given back" in said, said


@needs_root
def test_a_new_file_is_given_back_when_another_write_took_the_reserve(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = disk / "swap0"
    backend = _new_file(path, disk)
    seen = _another_write_takes_room_first(monkeypatch, disk, 16 * MiB)
    with backend, pytest.raises(UnsafeError) as refusal:
        backend.swapfile(True)
    _refused(refusal, path)
    assert seen, "the fallocate never ran"
    assert sorted(os.listdir(disk)) == ["lost+found", "other-write"]
    assert _free(disk) >= seen[0] - MiB  # the unnamed file's bytes are free again


@needs_root
def test_a_file_grown_is_cut_back_when_another_write_took_the_reserve(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = disk / "swap0"
    policy = Policy(swap_roots=(disk,))
    with provisioned("file", {"path": str(path)}, size=4 * MiB, policy=policy) as made:
        pass
    before = path.read_bytes()
    backend = rebuilt(made)
    backend.keep_free(KEPT, ", kept free for the test")
    seen = _another_write_takes_room_first(monkeypatch, disk, 12 * MiB)
    with backend, pytest.raises(UnsafeError) as refusal:
        backend.resize(16 * MiB)
    _refused(refusal, path)
    assert path.stat().st_size == 4 * MiB
    assert path.read_bytes() == before
    assert _free(disk) >= seen[0] - MiB


@needs_root
def test_an_unfinished_file_is_cut_back_when_another_write_took_the_reserve(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Provisioning again completes a file of this backend never formatted: its growth
    is measured again too, and undone to the length it had."""
    path = disk / "swap0"
    provision = unfinished(path, KEPT)
    seen = _another_write_takes_room_first(monkeypatch, disk, 16 * MiB)
    with provision(16 * MiB) as again, pytest.raises(UnsafeError) as refusal:
        again.swapfile(True)
    _refused(refusal, path)
    assert path.stat().st_size == 4 * MiB
    assert path.stat().st_blocks * 512 < MiB, "the holes it filled were not given back"
    assert _free(disk) >= seen[0] - MiB


@needs_root
def test_a_give_back_that_fails_says_both_and_where_the_file_was_left(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cut back fails too (an I/O error, made here for the test): the error says the
    reserve is gone and the file holds what it took, not an internal error (review
    205/4)."""
    path = disk / "swap0"
    policy = Policy(swap_roots=(disk,))
    with provisioned("file", {"path": str(path)}, size=4 * MiB, policy=policy) as made:
        pass
    backend = rebuilt(made)
    backend.keep_free(KEPT, ", kept free for the test")
    _another_write_takes_room_first(monkeypatch, disk, 12 * MiB)

    def cut_fails(fd: int, size: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(file_module, "_cut", cut_fails)
    with backend, pytest.raises(KernelError) as refusal:
        backend.resize(16 * MiB)
    said = refusal.value.message
    assert f"not enough free space in {disk} once {path} was allocated" in said, said
    assert f"giving the bytes back failed too (Input/output error): {path} is left at " in said
    assert said.endswith(f"{16 * MiB} bytes"), said


@needs_root
def test_with_the_reserve_kept_the_same_growth_is_made(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other write at the same moment but leaving the reserve whole: nothing refused
    (the check after the allocation is not a second, stricter rule)."""
    path = disk / "swap0"
    backend = _new_file(path, disk)
    # Takes all but the file and twice the reserve: the reserve stays whole after both.
    seen = _another_write_takes_room_first(monkeypatch, disk, 16 * MiB + 10 * MiB)
    with backend:
        backend.swapfile(True)
    assert seen and path.stat().st_size == 16 * MiB


@needs_root
def test_a_file_given_under_force_keeps_what_its_owner_wrote(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person's file given under force, its provision stopped before the header: the
    growth refused gives back its length only, never the data in it (review 214/9)."""
    path = disk / "swap0"
    owner = str(uuid.uuid4())
    path.write_bytes(os.urandom(4 * MiB))
    path.chmod(0o600)
    before = path.read_bytes()

    def provision(size: int) -> FileBackend:
        b = FileBackend(
            {"path": str(path)}, size_bytes=size, policy=Policy(swap_roots=(disk,)),
            provisioning=True, owner=owner, force=True,
        )  # fmt: skip
        b.keep_free(KEPT, ", kept free for the test")
        return b

    with provision(4 * MiB) as first:
        first.swapfile(True)  # given, never formatted
    fd = os.open(path, os.O_RDONLY)
    try:
        mark = file_module.read_mark(fd)
    finally:
        os.close(fd)
    assert mark is not None and mark.how == file_module.GIVEN, mark
    seen = _another_write_takes_room_first(monkeypatch, disk, 12 * MiB)
    with provision(16 * MiB) as again, pytest.raises(UnsafeError) as refusal:
        again.swapfile(True)
    _refused(refusal, path)
    assert path.stat().st_size == 4 * MiB
    assert path.read_bytes() == before, "the refusal emptied the owner's data"
    assert seen
