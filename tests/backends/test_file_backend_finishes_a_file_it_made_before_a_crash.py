"""A file swapadmin made carries its mark, naming its backend, from the moment it exists, so
after a crash between making the file and writing its header, provisioning the same backend
again (another process, a new instance that lost the saved state) accepts that file and
completes it."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from backends import header
from backends.plugins.file import MARK_NAME, FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root

SIZE = 4 * 1024 * 1024


@needs_root
@pytest.mark.parametrize("state_saved", [False, True], ids=["state lost", "state saved"])
def test_it_accepts_and_formats_its_own_file(
    swap_root: Path, policy: Policy, state_saved: bool
) -> None:
    path = swap_root / "swap0"
    owner = str(uuid.uuid4())
    with FileBackend(
        {"path": str(path)}, size_bytes=SIZE, policy=policy, provisioning=True, owner=owner
    ) as first:
        first.swapfile(True)
        state = first.state
    inode = path.stat().st_ino
    # The worker died here: no header yet.
    with open(path, "rb") as f:
        assert f.read(4096)[-10:] != header.MAGIC

    with FileBackend(
        {"path": str(path)},
        size_bytes=SIZE,
        policy=policy,
        provisioning=True,
        owner=owner,
        state=state if state_saved else None,
    ) as again:
        again.swapfile(True)
        hdr = header.mkswap(again, label="retried")
        assert header.read_header(again) == hdr
        assert again.record["uuid"] == str(hdr.uuid)

    assert path.stat().st_ino == inode
    assert os.getxattr(path, MARK_NAME) == f"swapadmin:made:{owner}".encode()
