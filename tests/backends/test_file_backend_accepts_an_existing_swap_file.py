"""A file that already is a swap area (util-linux mkswap, another tool's swap file) that
swapadmin did not make. A backend takes it only when forced with the typed name: formatting
it again changes its UUID, which whatever uses it (an fstab line, resume=) may name; to
manage it as it is, adopt it. Forced, the backend records it as given to it (the mark names
the backend and says given, so destroying the backend never deletes it). The operator's
command line, which has no backend and names the file itself, accepts it and leaves it
unmarked."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from backends import header
from backends.errors import UnsafeError
from backends.plugins.file import GIVEN, MARK_NAME, FileBackend, Mark, read_mark
from backends.policy import Policy
from tests.fixtures.host import needs_root, run

SIZE = 4 * 1024 * 1024


@needs_root
@pytest.mark.parametrize("owner", [str(uuid.uuid4()), None], ids=["a backend", "no owner"])
def test_it_accepts_a_file_util_linux_formatted(
    swap_root: Path, policy: Policy, owner: str | None
) -> None:
    path = swap_root / "swap0"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, SIZE)
    finally:
        os.close(fd)
    run("mkswap", "-q", "-L", "theirs", str(path))
    inode = path.stat().st_ino

    if owner is not None:
        refused = FileBackend(
            {"path": str(path)}, size_bytes=SIZE, policy=policy, provisioning=True, owner=owner
        )
        with pytest.raises(UnsafeError, match="an existing swap area that swapadmin did not"):
            refused.swapfile(True)
        assert MARK_NAME not in os.listxattr(path)
        assert header.parse_header(path.read_bytes()[:4096]).label == "theirs"
    with FileBackend(
        {"path": str(path)}, size_bytes=SIZE, policy=policy, provisioning=True, owner=owner,
        force=owner is not None,
    ) as backend:  # fmt: skip
        backend.swapfile(True)
        assert header.read_header(backend).label == "theirs"
        hdr = header.mkswap(backend, label="ours")
        assert header.read_header(backend).label == "ours"
        assert backend.record["uuid"] == str(hdr.uuid)

    assert path.stat().st_ino == inode
    if owner is None:
        assert MARK_NAME not in os.listxattr(path)
    else:
        with open(path, "rb") as f:
            assert read_mark(f.fileno()) == Mark(GIVEN, owner)
