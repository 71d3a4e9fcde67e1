"""``remove()`` (what destroy calls) deletes only a file swapadmin made. Any other file, a
swap file taken over or one made before files were marked, is left on the host and
reported as left (False): it may be someone else's, and a refusal would leave a backend
that can never be destroyed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from backends.plugins.file import FileBackend
from backends.plugins.loop import LoopBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run

SIZE = 4 * 1024 * 1024


def _swap_file_of_theirs(path: Path) -> Path:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, SIZE)
    finally:
        os.close(fd)
    run("mkswap", "-q", str(path))
    return path


@needs_root
@pytest.mark.parametrize("kind", [FileBackend, LoopBackend])
def test_it_leaves_a_file_it_did_not_make(
    swap_root: Path, policy: Policy, kind: type[FileBackend]
) -> None:
    path = _swap_file_of_theirs(swap_root / "swap0")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    backend = kind({"path": str(path)}, size_bytes=SIZE, policy=policy)
    backend.swapfile(True)  # accepted: it already is swap
    backend.swapfile(False)

    assert backend.remove() is False
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


@needs_root
@pytest.mark.parametrize("kind", [FileBackend, LoopBackend])
def test_it_deletes_a_file_it_made(
    swap_root: Path, policy: Policy, kind: type[FileBackend]
) -> None:
    path = swap_root / "swap0"
    backend = kind({"path": str(path)}, size_bytes=SIZE, policy=policy)
    backend.swapfile(True)
    backend.swapfile(False)

    assert backend.remove() is True
    assert not path.exists()
    assert backend.remove() is True  # already gone
