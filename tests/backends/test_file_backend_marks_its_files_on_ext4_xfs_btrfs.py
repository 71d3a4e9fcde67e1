"""Every file the file kind creates carries the ``trusted.swapadmin`` mark naming the backend
that made it, on each filesystem a swap root may be on, and keeps it through mkswap and
swapon."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from backends import header, kernel
from backends.plugins.file import MADE, MARK_NAME, FileBackend, Mark, read_mark
from backends.policy import Policy
from tests.fixtures.host import mounted_image, needs_root, run

SIZE = 16 * 1024 * 1024


@needs_root
@pytest.mark.parametrize("fstype", ["ext4", "xfs", "btrfs"])
def test_it_marks_the_file_it_creates(scratch: Path, fstype: str) -> None:
    owner = str(uuid.uuid4())
    want = f"swapadmin:made:{owner}".encode()
    with mounted_image(scratch, fstype) as mnt:
        path = mnt / "swap0"
        with FileBackend(
            {"path": str(path)},
            size_bytes=SIZE,
            policy=Policy(swap_roots=(mnt,)),
            provisioning=True,
            owner=owner,
        ) as backend:
            backend.swapfile(True)
            assert os.getxattr(path, MARK_NAME) == want
            assert backend.record["owner"] == owner
            header.mkswap(backend)

        with open(path, "rb") as f:
            assert read_mark(f.fileno()) == Mark(MADE, owner)
        run("mkswap", "-q", str(path))
        kernel.swapon(str(path))
        run("swapoff", str(path))
        assert os.getxattr(path, MARK_NAME) == want
