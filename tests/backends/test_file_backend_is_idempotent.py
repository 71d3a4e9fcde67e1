"""Enabling a ready swap file verifies it and changes nothing; disabling releases nothing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run

SIZE = 4 * 1024 * 1024


@needs_root
def test_it_keeps_the_file_and_its_header(swap_root: Path, policy: Policy) -> None:
    path = swap_root / "swap0"
    backend = FileBackend({"path": str(path)}, size_bytes=SIZE, policy=policy)
    backend.swapfile(True)
    run("mkswap", "-q", "-L", "keep", str(path))
    st = path.stat()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    # A new instance, as a worker in another process would build from the stored request.
    FileBackend({"path": str(path)}, size_bytes=SIZE, policy=policy).swapfile(True)
    backend.swapfile(False)

    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (st.st_ino, st.st_mtime_ns, SIZE)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert backend.state == {}


@needs_root
def test_it_creates_a_missing_swap_root_privately(scratch: Path) -> None:
    root = scratch / "not-yet"
    backend = FileBackend(
        {"path": str(root / "swap0")}, size_bytes=SIZE, policy=Policy(swap_roots=(root,))
    )
    backend.swapfile(True)
    assert (root / "swap0").stat().st_size == SIZE
    assert os.stat(root).st_mode & 0o077 == 0
