"""``remove()`` (what destroy calls) deletes only a file whose mark says this backend made
it. A swap file given to the backend (taken over at provision) loses the mark and stays; a
file made by another backend, or marked before marks named their backend, stays untouched.
Each is reported as left (False): it may be someone else's, and a refusal would leave a
backend that can never be destroyed."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from backends.plugins.file import MADE, MARK_NAME, FileBackend, Mark, read_mark
from backends.plugins.loop import LoopBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run
from tests.fixtures.stores import mark, rebuilt

SIZE = 4 * 1024 * 1024


def _swap_file_of_theirs(path: Path) -> Path:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, SIZE)
    finally:
        os.close(fd)
    run("mkswap", "-q", str(path))
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mark_of(path: Path) -> Mark | None:
    with open(path, "rb") as f:
        return read_mark(f.fileno())


@needs_root
@pytest.mark.parametrize("kind", [FileBackend, LoopBackend])
def test_it_leaves_a_file_it_was_given(
    swap_root: Path, policy: Policy, kind: type[FileBackend]
) -> None:
    path = _swap_file_of_theirs(swap_root / "swap0")
    digest = _digest(path)
    backend = kind(
        {"path": str(path)},
        size_bytes=SIZE,
        policy=policy,
        provisioning=True,
        owner=str(uuid.uuid4()),
        force=True,  # someone's swap file: taken only when forced
    )
    backend.swapfile(True)
    backend.swapfile(False)
    backend.close()

    assert rebuilt(backend).remove() is False  # the destroy job
    assert path.exists()
    assert _digest(path) == digest
    assert MARK_NAME not in os.listxattr(path)


@needs_root
@pytest.mark.parametrize("other", [str(uuid.uuid4()), None], ids=["another backend", "legacy"])
@pytest.mark.parametrize("kind", [FileBackend, LoopBackend])
def test_it_leaves_a_file_marked_by_another(
    swap_root: Path, policy: Policy, kind: type[FileBackend], other: str | None
) -> None:
    path = _swap_file_of_theirs(swap_root / "swap0")
    mark(path, other)
    before = (_digest(path), _mark_of(path))
    backend = kind({"path": str(path)}, size_bytes=SIZE, policy=policy, owner=str(uuid.uuid4()))

    assert backend.remove() is False
    assert path.exists()
    assert (_digest(path), _mark_of(path)) == before
    assert before[1] == Mark(MADE, other or "")


@needs_root
@pytest.mark.parametrize("kind", [FileBackend, LoopBackend])
def test_it_deletes_a_file_it_made(
    swap_root: Path, policy: Policy, kind: type[FileBackend]
) -> None:
    path = swap_root / "swap0"
    backend = kind(
        {"path": str(path)},
        size_bytes=SIZE,
        policy=policy,
        provisioning=True,
        owner=str(uuid.uuid4()),
    )
    backend.swapfile(True)
    backend.swapfile(False)
    backend.close()

    destroy = rebuilt(backend)
    assert isinstance(destroy, FileBackend)
    assert destroy.remove() is True
    assert not path.exists()
    assert destroy.remove() is True  # already gone
