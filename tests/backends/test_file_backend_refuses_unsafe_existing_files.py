"""An existing file is verified, never trusted, even one this backend made (its mark names
this backend) and someone changed since: wrong owner or mode, wrong size, holes, shared
extents or a missing NOCOW are each refused by name, and the file is left as it was."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from backends.errors import UnsafeError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import mounted_image, needs_root, run
from tests.fixtures.stores import mark

SIZE = 4 * 1024 * 1024
OWNER = str(uuid.uuid4())


def _digest(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mode, st.st_blocks


SWAP_UUID = uuid.UUID("5a2a0000-0000-4000-8000-000000000001")


def _marked(path: Path) -> Path:
    mark(path, OWNER)
    return path


def _provision(path: Path, policy: Policy) -> FileBackend:
    """The backend whose mark the file carries, provisioning again."""
    return FileBackend(
        {"path": str(path)}, size_bytes=SIZE, policy=policy, provisioning=True, owner=OWNER
    )


def _written(path: Path, size: int = SIZE) -> Path:
    path.write_bytes(b"\xa5" * size)
    os.chmod(path, 0o600)
    return _marked(path)


@needs_root
def test_it_refuses_a_file_others_can_read(swap_root: Path, policy: Policy) -> None:
    path = _written(swap_root / "swap0")
    os.chmod(path, 0o644)
    before = _digest(path)
    backend = _provision(path, policy)
    with pytest.raises(UnsafeError, match="mode 644, not 600.*chmod 600"):
        backend.swapfile(True)
    assert _digest(path) == before


@needs_root
def test_it_refuses_a_file_not_owned_by_root(swap_root: Path, policy: Policy) -> None:
    path = _written(swap_root / "swap0")
    os.chown(path, 1000, 1000)
    backend = _provision(path, policy)
    with pytest.raises(UnsafeError, match="owned by uid 1000, not root"):
        backend.swapfile(True)
    assert path.stat().st_uid == 1000


@needs_root
def test_it_refuses_a_formatted_file_of_another_size(swap_root: Path, policy: Policy) -> None:
    path = _written(swap_root / "swap0", SIZE // 2)
    run("mkswap", "-q", "-U", str(SWAP_UUID), str(path))
    before = _digest(path)
    backend = FileBackend(
        {"path": str(path)}, size_bytes=SIZE, policy=policy, provisioning=True, owner=OWNER,
        state={"store": {"owner": OWNER, "uuid": str(SWAP_UUID)}},
    )  # fmt: skip
    with pytest.raises(UnsafeError, match=f"exists with {SIZE // 2} bytes, not the {SIZE}"):
        backend.swapfile(True)
    assert _digest(path) == before


@needs_root
def test_it_completes_its_own_file_never_formatted(swap_root: Path, policy: Policy) -> None:
    """A file of this backend's that a crash left short (before files were made unnamed
    first) is brought to its size when provisioning runs again, not refused."""
    path = _written(swap_root / "swap0", SIZE // 2)
    with _provision(path, policy) as backend:
        backend.swapfile(True)
        assert path.stat().st_size == SIZE


@needs_root
def test_it_refuses_a_directory(swap_root: Path, policy: Policy) -> None:
    (swap_root / "swap0").mkdir()
    backend = _provision(swap_root / "swap0", policy)
    with pytest.raises(UnsafeError, match="not a regular file"):
        backend.swapfile(True)


@needs_root
def test_it_refuses_a_sparse_file(swap_root: Path, policy: Policy) -> None:
    path = swap_root / "swap0"
    with open(path, "wb") as f:
        f.write(b"x" * 4096)
        f.truncate(SIZE)
    os.chmod(path, 0o600)
    _marked(path)
    before = _digest(path)
    backend = _provision(path, policy)
    with pytest.raises(UnsafeError, match=f"has a hole at bytes 4096..{SIZE}"):
        backend.swapfile(True)
    assert _digest(path) == before


@needs_root
def test_it_refuses_a_reflinked_copy(scratch: Path) -> None:
    with mounted_image(scratch, "xfs") as mnt:
        original = _written(mnt / "original")
        path = mnt / "swap0"
        run("cp", "--reflink=always", str(original), str(path))
        os.chmod(path, 0o600)
        _marked(path)
        before = _digest(path)
        backend = _provision(path, Policy(swap_roots=(mnt,)))
        with pytest.raises(UnsafeError, match="shares extents with another file"):
            backend.swapfile(True)
        assert _digest(path) == before


@needs_root
def test_it_refuses_a_btrfs_file_without_nocow(scratch: Path) -> None:
    with mounted_image(scratch, "btrfs") as mnt:
        path = mnt / "swap0"
        with open(path, "wb") as f:
            os.posix_fallocate(f.fileno(), 0, SIZE)
        os.chmod(path, 0o600)
        _marked(path)
        backend = _provision(path, Policy(swap_roots=(mnt,)))
        with pytest.raises(UnsafeError, match=r"is not NOCOW on btrfs \(chattr \+C"):
            backend.swapfile(True)
        assert path.stat().st_size == SIZE
