"""A swap file with a second name (a hard link) may be another backend's or a user's file
under that other name, and the bytes written through one name are the other's too. So a
provision does not take such a file, and a later job neither writes to nor activates its
own file once someone has linked it: each refuses naming the links, and nothing changes."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from backends import header, pageio
from backends.errors import UnsafeError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run
from tests.fixtures.stores import provisioned, rebuilt

pytestmark = [needs_root]

SIZE = 4 * 1024 * 1024
LINKS = r"swap0 has 2 names \(hard links\).*Remove the other links"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_provision_refuses_a_linked_swap_file(swap_root: Path, policy: Policy) -> None:
    path = swap_root / "swap0"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, SIZE)
    finally:
        os.close(fd)
    run("mkswap", "-q", str(path))
    os.link(path, swap_root / "other-name")
    before = _digest(path)
    backend = FileBackend(
        {"path": str(path)},
        size_bytes=SIZE,
        policy=policy,
        provisioning=True,
        force=True,
        owner=str(uuid.uuid4()),
    )
    with backend, pytest.raises(UnsafeError, match=LINKS):
        backend.swapfile(True)
    assert backend.record == {}
    assert _digest(path) == before
    assert os.listxattr(path) == []


@pytest.mark.parametrize(
    "write",
    [
        lambda b: pageio.scan(b, patterns=1),
        lambda b: pageio.benchmark(b, seconds=0.2),
        lambda b: header.mkswap(b),
        lambda b: b.resize(2 * SIZE),
        lambda b: b.swapfile(True),
        lambda b: b.open_for_swapon(),
    ],
    ids=["scan", "benchmark", "mkswap", "resize", "activate", "swapon"],
)
def test_a_later_job_refuses_its_own_file_once_linked(
    swap_root: Path, scratch: Path, policy: Policy, write: object
) -> None:
    path = swap_root / "swap0"
    with provisioned("file", {"path": str(path)}, size=SIZE, policy=policy) as made:
        pass
    os.link(path, scratch / "elsewhere")  # outside the swap root, on the same filesystem
    before = _digest(path), path.stat().st_size
    later = rebuilt(made)
    with later, pytest.raises(UnsafeError, match=LINKS):
        write(later)  # type: ignore[operator]
    assert (_digest(path), path.stat().st_size) == before
