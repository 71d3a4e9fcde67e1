"""A symlink anywhere in a swap file's path is refused before anything is written."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from backends.errors import UnsafeError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root

SIZE = 1024 * 1024


def _provision(path: Path, policy: Policy) -> FileBackend:
    return FileBackend(
        {"path": str(path)},
        size_bytes=SIZE,
        policy=policy,
        provisioning=True,
        owner=str(uuid.uuid4()),
    )


@needs_root
def test_it_refuses_a_symlinked_directory(scratch: Path, swap_root: Path, policy: Policy) -> None:
    target = scratch / "elsewhere"
    target.mkdir()
    (swap_root / "sub").symlink_to(target)
    backend = _provision(swap_root / "sub" / "swap0", policy)
    with pytest.raises(UnsafeError, match=f"{swap_root}/sub is a symbolic link"):
        backend.swapfile(True)
    assert list(target.iterdir()) == []


@needs_root
def test_it_refuses_a_symlink_as_the_file(scratch: Path, swap_root: Path, policy: Policy) -> None:
    victim = scratch / "precious"
    victim.write_bytes(b"keep me" * 1000)
    os.chmod(victim, 0o600)
    (swap_root / "swap0").symlink_to(victim)
    backend = _provision(swap_root / "swap0", policy)
    with pytest.raises(UnsafeError, match="symbolic link"):
        backend.swapfile(True)
    # Destroy's remove leaves a link where the file was: it is not this backend's to delete.
    assert backend.remove() is False
    assert victim.read_bytes() == b"keep me" * 1000
    assert (swap_root / "swap0").is_symlink()


@needs_root
def test_it_refuses_a_swap_root_reached_through_a_symlink(scratch: Path) -> None:
    real = scratch / "real"
    real.mkdir()
    link = scratch / "link"
    link.symlink_to(real)
    backend = _provision(link / "swap0", Policy(swap_roots=(link,)))
    with pytest.raises(UnsafeError, match=f"{link} is a symbolic link"):
        backend.swapfile(True)
    assert list(real.iterdir()) == []
