"""A file that already is a swap area (util-linux mkswap, another tool's swap file) is
accepted at the path though swapadmin did not make it: formatting it again loses nothing.
It does not become swapadmin's: it is not marked."""

from __future__ import annotations

import os
from pathlib import Path

from backends import header
from backends.plugins.file import MARK_NAME, FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run

SIZE = 4 * 1024 * 1024


@needs_root
def test_it_accepts_a_file_util_linux_formatted(swap_root: Path, policy: Policy) -> None:
    path = swap_root / "swap0"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, SIZE)
    finally:
        os.close(fd)
    run("mkswap", "-q", "-L", "theirs", str(path))

    with FileBackend({"path": str(path)}, size_bytes=SIZE, policy=policy) as backend:
        backend.swapfile(True)
        assert header.read_header(backend).label == "theirs"
        header.mkswap(backend, label="ours")
        assert header.read_header(backend).label == "ours"

    assert MARK_NAME not in os.listxattr(path)
