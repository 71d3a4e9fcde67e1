"""A fallocate that fails partway keeps the blocks it got: ENOSPC is what the race of
review 199/3 makes of it when the other write comes first and takes more than the
reserve. The file kind gives those blocks back as it does when the reserve is found gone
afterwards, and refuses with the kernel's words and that the room was there a moment
before (review 214/1): a grown file is cut back to its length, its bytes as they were; an
unfinished one is emptied again; a new one is never named.

The other write is a real one, made just before this file's fallocate, after its room was
found: it leaves half the growth free, so the fallocate starts and runs out."""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.errors import KernelError, NoRoomError
from backends.plugins import file as file_module
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.backends.test_an_allocation_that_leaves_less_than_the_reserve_is_given_back import (
    unfinished,
)
from tests.fixtures.host import mounted_image, needs_root
from tests.fixtures.stores import provisioned, rebuilt

MiB = 1 << 20
KEPT = 10  # percent of the 64 MiB filesystem


@pytest.fixture
def disk(scratch: Path) -> Iterator[Path]:
    """ext4, which keeps the blocks and the length a fallocate reached before ENOSPC. (xfs
    here refuses the whole range before it takes anything: tried, nothing to give back.)"""
    with mounted_image(scratch, "ext4", size_mb=64) as mnt:
        yield mnt


def _free(mnt: Path) -> int:
    st = os.statvfs(mnt)
    return st.f_bavail * st.f_frsize


def _another_write_leaves_half_of(
    monkeypatch: pytest.MonkeyPatch, mnt: Path, growth: int
) -> list[int]:
    """Before the next fallocate, another file takes all the room but half the ``growth``.
    Gives the free bytes seen just before the fallocate ran, to compare after; checks that
    the fallocate did take blocks before it ran out (else the test would show nothing)."""
    allocate = file_module._allocate
    seen: list[int] = []

    def after_another_write(fd: int, path: str, size: int) -> None:
        if seen:
            return allocate(fd, path, size)
        other = os.open(mnt / "other-write", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(other, 0, _free(mnt) - growth // 2)
        finally:
            os.close(other)
        seen.append(_free(mnt))
        blocks = os.fstat(fd).st_blocks
        try:
            allocate(fd, path, size)
        except KernelError:
            assert os.fstat(fd).st_blocks - blocks > growth // 8 // 512, "nothing was taken"
            raise
        raise AssertionError("the fallocate did not run out")

    monkeypatch.setattr(file_module, "_allocate", after_another_write)
    return seen


def _refused(refusal: pytest.ExceptionInfo[NoRoomError], path: Path, size: int) -> None:
    said = refusal.value.message
    assert f"cannot allocate {size} bytes for {path}: No space left on device" in said, said
    assert "the room was there a moment before" in said, said
    assert "The bytes it took were given back; try again." in said, said


@needs_root
def test_a_file_grown_partway_is_cut_back(disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = disk / "swap0"
    policy = Policy(swap_roots=(disk,))
    with provisioned("file", {"path": str(path)}, size=4 * MiB, policy=policy) as made:
        pass
    before = path.read_bytes()
    backend = rebuilt(made)
    backend.keep_free(KEPT, ", kept free for the test")
    seen = _another_write_leaves_half_of(monkeypatch, disk, 24 * MiB)
    with backend, pytest.raises(NoRoomError) as refusal:
        backend.resize(28 * MiB)
    _refused(refusal, path, 28 * MiB)
    assert path.stat().st_size == 4 * MiB
    assert path.read_bytes() == before
    # What the fallocate got before it ran out is free again.
    assert _free(disk) >= seen[0] - MiB, (_free(disk), seen[0])


@needs_root
def test_an_unfinished_file_filled_partway_is_emptied_again(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = disk / "swap0"
    provision = unfinished(path, KEPT)
    seen = _another_write_leaves_half_of(monkeypatch, disk, 28 * MiB)
    with provision(28 * MiB) as again, pytest.raises(NoRoomError) as refusal:
        again.swapfile(True)
    _refused(refusal, path, 28 * MiB)
    assert path.stat().st_size == 4 * MiB
    assert path.stat().st_blocks * 512 < MiB, "the blocks it got were not given back"
    assert _free(disk) >= seen[0] - MiB, (_free(disk), seen[0])


@needs_root
def test_a_new_file_that_runs_out_is_never_named(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = disk / "swap0"
    backend = FileBackend(
        {"path": str(path)}, size_bytes=24 * MiB, policy=Policy(swap_roots=(disk,)),
        provisioning=True, owner=str(uuid.uuid4()),
    )  # fmt: skip
    backend.keep_free(KEPT, ", kept free for the test")
    seen = _another_write_leaves_half_of(monkeypatch, disk, 24 * MiB)
    with backend, pytest.raises(NoRoomError) as refusal:
        backend.swapfile(True)
    _refused(refusal, path, 24 * MiB)
    assert sorted(os.listdir(disk)) == ["lost+found", "other-write"]
    assert _free(disk) >= seen[0] - MiB, (_free(disk), seen[0])


def _grown_file(disk: Path) -> tuple[Path, bytes, FileBackend]:
    path = disk / "swap0"
    policy = Policy(swap_roots=(disk,))
    with provisioned("file", {"path": str(path)}, size=4 * MiB, policy=policy) as made:
        pass
    return path, path.read_bytes(), rebuilt(made)


@needs_root
def test_a_flush_that_fails_is_never_said_as_no_room(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC from the fsync after a whole fallocate (a thin device run out, made here for
    the test): what reached the disk is not known, so it is the kernel's error, which
    leaves a resized area off, not a NoRoomError, which would swap it on again (review
    217/1). The allocation is undone all the same."""
    path, before, backend = _grown_file(disk)

    def flush_fails(fd: int, where: str) -> None:
        raise KernelError(f"cannot write {where}'s allocation to disk: No space left on device",
                          errno=errno.ENOSPC)  # fmt: skip

    monkeypatch.setattr(file_module, "_flush", flush_fails)
    with backend, pytest.raises(KernelError) as refusal:
        backend.resize(16 * MiB)
    assert not isinstance(refusal.value, NoRoomError)
    assert "what reached the disk is not known" in refusal.value.message, refusal.value.message
    assert path.stat().st_size == 4 * MiB and path.read_bytes() == before


@needs_root
def test_an_allocation_interrupted_gives_back_what_it_took(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signal's exception raised as the fallocate returns (Python's retry after EINTR
    runs handlers): the growth goes back, and the interruption goes on up (review 217/4)."""
    path, before, backend = _grown_file(disk)
    allocate = file_module._allocate

    def interrupted(fd: int, where: str, size: int) -> None:
        allocate(fd, where, size)
        assert os.fstat(fd).st_size == size
        raise KeyboardInterrupt

    monkeypatch.setattr(file_module, "_allocate", interrupted)
    with backend, pytest.raises(KeyboardInterrupt):
        backend.resize(16 * MiB)
    assert path.stat().st_size == 4 * MiB and path.read_bytes() == before


@needs_root
def test_a_room_that_cannot_be_read_afterwards_gives_the_growth_back(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The filesystem's room cannot be read once the growth is on disk (EIO, made here for
    the test): the growth goes back, and the kernel's words are said as a KernelError,
    never left to the job as an internal error (review 220/5)."""
    path, before, backend = _grown_file(disk)
    flush, statvfs = file_module._flush, os.statvfs
    flushed: list[int] = []

    def flush_noted(fd: int, where: str) -> None:
        flush(fd, where)
        flushed.append(fd)

    def unreadable_once_flushed(at: int | str) -> os.statvfs_result:
        if flushed:
            raise OSError(errno.EIO, "Input/output error")
        return statvfs(at)

    monkeypatch.setattr(file_module, "_flush", flush_noted)
    monkeypatch.setattr(os, "statvfs", unreadable_once_flushed)
    with backend, pytest.raises(KernelError) as refusal:
        backend.resize(16 * MiB)
    monkeypatch.undo()
    said = refusal.value.message
    assert not isinstance(refusal.value, NoRoomError)
    assert "cannot read the free space of the swap file's filesystem: Input/output error" in said
    assert "The bytes it took were given back." in said, said
    assert path.stat().st_size == 4 * MiB and path.read_bytes() == before
