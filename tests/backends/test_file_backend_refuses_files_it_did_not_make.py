"""A file already at the path that swapadmin did not make and that is not swap may be a
sysadmin's data: even root-owned, 0600, of the asked size and without holes, a provision
refuses it by name, a later job (which never took it) refuses to enable or resize it, for
the file and the loop kind, and every byte (and its extended attributes) stays as it was.
Only a forced provision takes it, as given to the backend: never deleted by it."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from backends.errors import NotOursError, UnsafeError
from backends.plugins.file import GIVEN, MARK_NAME, FileBackend, Mark, read_mark
from backends.plugins.loop import LoopBackend
from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root

SIZE = 4 * 1024 * 1024


def _database(path: Path) -> Path:
    """What a database file looks like to swapadmin: the right shape, someone's rows."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, SIZE)
        os.pwrite(fd, b"PGDATA row 1; row 2; row 3\n" * 200, 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def _state(path: Path) -> tuple[str, int, int, list[str]]:
    st = path.stat()
    return (
        hashlib.sha256(path.read_bytes()).hexdigest(),
        st.st_size,
        st.st_mtime_ns,
        os.listxattr(path),
    )


@needs_root
@pytest.mark.parametrize("kind", [FileBackend, LoopBackend])
def test_it_refuses_a_file_with_data(
    swap_root: Path, policy: Policy, kind: type[FileBackend]
) -> None:
    path = _database(swap_root / "swap0")
    before = _state(path)
    backend = kind(
        {"path": str(path)},
        size_bytes=SIZE,
        policy=policy,
        provisioning=True,
        owner=str(uuid.uuid4()),
    )
    with pytest.raises(
        UnsafeError,
        match="swap0 exists and swapadmin did not make it: it may hold data. Choose another "
        "path, or remove it yourself",
    ):
        backend.swapfile(True)
    assert backend.record == {}
    assert _state(path) == before
    assert MARK_NAME not in os.listxattr(path)
    assert str(path) not in attached_loops().values()


@needs_root
@pytest.mark.parametrize("kind", [FileBackend, LoopBackend])
def test_a_later_job_refuses_to_enable_it(
    swap_root: Path, policy: Policy, kind: type[FileBackend]
) -> None:
    path = _database(swap_root / "swap0")
    before = _state(path)
    # Not provisioning: force means nothing, and the file was never this backend's.
    backend = kind({"path": str(path)}, size_bytes=SIZE, policy=policy, force=True)
    with pytest.raises(NotOursError, match="swap0 was never formatted by this backend"):
        backend.swapfile(True)
    assert _state(path) == before
    assert str(path) not in attached_loops().values()


@needs_root
def test_it_refuses_to_resize_it(swap_root: Path, policy: Policy) -> None:
    path = _database(swap_root / "swap0")
    before = _state(path)
    backend = FileBackend({"path": str(path)}, size_bytes=SIZE, policy=policy)
    for new_size in (SIZE // 2, SIZE * 2):
        with pytest.raises(NotOursError, match="swap0 was never formatted by this backend"):
            backend.resize(new_size)
    assert _state(path) == before


@needs_root
def test_it_takes_it_over_when_forced(swap_root: Path, policy: Policy) -> None:
    path = _database(swap_root / "swap0")
    owner = str(uuid.uuid4())
    with FileBackend(
        {"path": str(path)},
        size_bytes=SIZE,
        policy=policy,
        provisioning=True,
        force=True,
        owner=owner,
    ) as backend:
        backend.swapfile(True)
    # Forcing takes it as given to this backend; it does not make it swapadmin's to delete.
    with open(path, "rb") as f:
        assert read_mark(f.fileno()) == Mark(GIVEN, owner)
    assert backend.remove() is False
    assert path.exists()
    assert MARK_NAME not in os.listxattr(path)
