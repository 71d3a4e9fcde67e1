"""Enabling a ready swap file verifies it and changes nothing, both in a later job (a new
instance built from the saved state, as a worker in another process would) and when the
provision runs again; disabling releases nothing."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, rebuilt

SIZE = 4 * 1024 * 1024


def _fingerprint(path: Path) -> tuple[int, int, int, str]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size, hashlib.sha256(path.read_bytes()).hexdigest()


@needs_root
def test_it_keeps_the_file_and_its_header(swap_root: Path, policy: Policy) -> None:
    path = swap_root / "swap0"
    with provisioned("file", {"path": str(path)}, size=SIZE, policy=policy, label="keep") as made:
        pass
    before = _fingerprint(path)
    state = dict(made.state)

    # A new instance, as a worker in another process would build from the saved state.
    with rebuilt(made) as later:
        later.swapfile(True)
        later.swapfile(False)
        assert later.state == state
    # The provision run again (a retried job): the file is its own and formatted.
    with rebuilt(made, provisioning=True) as again:
        again.swapfile(True)
        again.swapfile(False)
        assert again.record == made.record

    assert _fingerprint(path) == before
    assert before[2] == SIZE


@needs_root
def test_it_creates_a_missing_swap_root_privately(scratch: Path) -> None:
    root = scratch / "not-yet"
    with FileBackend(
        {"path": str(root / "swap0")},
        size_bytes=SIZE,
        policy=Policy(swap_roots=(root,)),
        provisioning=True,
        owner=str(uuid.uuid4()),
    ) as backend:
        backend.swapfile(True)
    assert (root / "swap0").stat().st_size == SIZE
    assert os.stat(root).st_mode & 0o077 == 0
