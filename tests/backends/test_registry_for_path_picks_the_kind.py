"""for_path turns an existing path into the right backend, or says why it cannot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backends.errors import ValidationError
from backends.plugins import for_path
from backends.plugins.block import BlockBackend
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root

MiB = 1024 * 1024


def test_it_makes_a_file_backend_sized_from_the_file(swap_root: Path, policy: Policy) -> None:
    path = swap_root / "swap0"
    path.write_bytes(b"\0" * MiB)
    backend = for_path(str(path), policy)
    assert isinstance(backend, FileBackend) and backend.size_bytes == MiB
    assert backend.swap_path == str(path)


@needs_root
def test_it_makes_a_block_backend(loop_device: str, policy: Policy) -> None:
    backend = for_path(loop_device, policy, force=True, provisioning=True)
    assert isinstance(backend, BlockBackend) and backend.force and backend.provisioning
    assert backend.capacity_bytes() == 64 * MiB
    # Force is a provision's alone: any other caller gets a plugin that cannot take.
    other = for_path(loop_device, policy, force=True)
    assert isinstance(other, BlockBackend) and not other.force and not other.provisioning


@needs_root
def test_it_follows_a_link_to_a_block_device(
    loop_device: str, scratch: Path, policy: Policy
) -> None:
    link = scratch / "by-id"
    link.symlink_to(loop_device)
    backend = for_path(str(link), policy)
    assert isinstance(backend, BlockBackend) and backend.swap_path == loop_device


def test_it_refuses_a_file_outside_the_roots(scratch: Path, policy: Policy) -> None:
    path = scratch / "outside"
    path.write_bytes(b"\0" * MiB)
    with pytest.raises(ValidationError, match="outside the swap roots"):
        for_path(str(path), policy)


def test_it_refuses_a_link_to_a_file(swap_root: Path, policy: Policy) -> None:
    (swap_root / "real").write_bytes(b"\0" * MiB)
    (swap_root / "link").symlink_to(swap_root / "real")
    with pytest.raises(ValidationError, match="is a symbolic link to .*real"):
        for_path(str(swap_root / "link"), policy)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: os.mkfifo(p), "is a named pipe"),
        (lambda p: None, "No such file or directory"),
    ],
)
def test_it_refuses_anything_else(swap_root: Path, policy: Policy, make: object, says: str) -> None:
    path = swap_root / "thing"
    make(path)  # type: ignore[operator]
    with pytest.raises(ValidationError, match=says):
        for_path(str(path), policy)


def test_it_refuses_dotdot(swap_root: Path, policy: Policy) -> None:
    with pytest.raises(ValidationError, match="'..' component"):
        for_path(f"{swap_root}/../swap/x", policy)


def test_it_refuses_a_file_that_is_not_whole_pages(swap_root: Path, policy: Policy) -> None:
    (swap_root / "odd").write_bytes(b"\0" * (MiB + 1))
    with pytest.raises(ValidationError, match="multiple of the page size"):
        for_path(str(swap_root / "odd"), policy)
