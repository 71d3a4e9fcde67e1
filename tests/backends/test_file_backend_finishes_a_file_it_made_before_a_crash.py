"""A file swapadmin made carries its mark from the moment it exists, so after a crash
between making the file and writing its header, provisioning again (another process, a
new instance) accepts that file and completes it."""

from __future__ import annotations

import os
from pathlib import Path

from backends import header
from backends.plugins.file import MARK_NAME, MARK_VALUE, FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root

SIZE = 4 * 1024 * 1024


@needs_root
def test_it_accepts_and_formats_its_own_file(swap_root: Path, policy: Policy) -> None:
    path = swap_root / "swap0"
    FileBackend({"path": str(path)}, size_bytes=SIZE, policy=policy).swapfile(True)
    inode = path.stat().st_ino
    # The worker died here: no header yet.
    with open(path, "rb") as f:
        assert f.read(4096)[-10:] != header.MAGIC

    with FileBackend({"path": str(path)}, size_bytes=SIZE, policy=policy) as again:
        again.swapfile(True)
        hdr = header.mkswap(again, label="retried")
        assert header.read_header(again) == hdr

    assert path.stat().st_ino == inode
    assert os.getxattr(path, MARK_NAME) == MARK_VALUE
