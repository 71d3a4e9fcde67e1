"""Every file the file kind creates carries the ``trusted.swapadmin`` mark, on each
filesystem a swap root may be on, and keeps it through mkswap and swapon."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backends import kernel
from backends.plugins.file import MARK_NAME, MARK_VALUE, FileBackend
from backends.policy import Policy
from tests.fixtures.host import mounted_image, needs_root, run

SIZE = 16 * 1024 * 1024


@needs_root
@pytest.mark.parametrize("fstype", ["ext4", "xfs", "btrfs"])
def test_it_marks_the_file_it_creates(scratch: Path, fstype: str) -> None:
    with mounted_image(scratch, fstype) as mnt:
        path = mnt / "swap0"
        backend = FileBackend(
            {"path": str(path)}, size_bytes=SIZE, policy=Policy(swap_roots=(mnt,))
        )
        backend.swapfile(True)
        assert os.getxattr(path, MARK_NAME) == MARK_VALUE

        run("mkswap", "-q", str(path))
        kernel.swapon(str(path))
        run("swapoff", str(path))
        assert os.getxattr(path, MARK_NAME) == MARK_VALUE
