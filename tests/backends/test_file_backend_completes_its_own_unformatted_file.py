"""Before files were made unnamed first, a provision created the file at its path, marked
it, then allocated it: a crash in between left a file of this backend's, never formatted,
shorter (or, for an interrupted resize, longer) than asked. Provisioning the backend again
takes that file (its mark names this backend, and it holds no swap area this backend wrote)
and brings it to the asked size in place, with or without the state the crash lost."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from backends import header
from backends import store as store_mod
from backends.plugins.file import MARK_NAME, FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.stores import mark

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20
SIZE = 16 * MiB


def _left_by_an_older_version(path: Path, owner: str, size: int) -> dict[str, object]:
    """The file, and the state a provision of an older version had saved for it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.posix_fallocate(fd, 0, size)
        key = store_mod.file_identity(os.fstat(fd))
    finally:
        os.close(fd)
    mark(path, owner)
    return {"store": {"key": key, "owner": owner, "uuid": None}}


@pytest.mark.parametrize("state_saved", [False, True], ids=["state lost", "state saved"])
@pytest.mark.parametrize("left", [SIZE // 4, 2 * SIZE], ids=["short", "long"])
def test_provisioning_again_completes_it(
    swap_root: Path, policy: Policy, left: int, state_saved: bool
) -> None:
    path = swap_root / "s0"
    owner = str(uuid.uuid4())
    state = _left_by_an_older_version(path, owner, left)
    inode = path.stat().st_ino
    with FileBackend(
        {"path": str(path)}, size_bytes=SIZE, policy=policy, provisioning=True, owner=owner,
        state=state if state_saved else None,
    ) as again:  # fmt: skip
        again.swapfile(True)
        hdr = header.mkswap(again, label="completed")
        assert again.record["uuid"] == str(hdr.uuid)
    assert path.stat().st_ino == inode and path.stat().st_size == SIZE
    assert os.getxattr(path, MARK_NAME) == f"swapadmin:made:{owner}".encode()
    with open(path, "rb") as f:
        found = header.parse_header(f.read(4096))
    assert (found.uuid, found.label, found.last_page) == (hdr.uuid, "completed", SIZE // 4096 - 1)
    FileBackend(
        {"path": str(path)}, size_bytes=SIZE, policy=policy, owner=owner, state=again.state
    ).verify()  # activate's check: extents, size, mark and header are all in order
