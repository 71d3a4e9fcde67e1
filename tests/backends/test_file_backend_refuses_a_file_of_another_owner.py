"""A later job writes only to the file its backend's provision made: once the mark at the
path names another owner, or another file has been put in its place (a user's swap file,
another backend's file), the rebuilt plugin refuses to scan, benchmark, mkswap, resize or
activate it, says why, and neither the file at the path nor the backend's own file (moved
away) changes by a byte."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from backends import header, pageio
from backends.errors import NotOursError
from backends.plugins.file import FileBackend, Mark, read_mark
from backends.policy import Policy
from tests.fixtures.host import needs_root, run
from tests.fixtures.stores import mark, provisioned, rebuilt

pytestmark = [needs_root]

SIZE = 4 * 1024 * 1024

WRITES: dict[str, Callable[[FileBackend], object]] = {
    "scan": lambda b: pageio.scan(b, patterns=1),
    "benchmark": lambda b: pageio.benchmark(b, seconds=0.2),
    "mkswap": lambda b: header.mkswap(b, label="overwrite"),
    "resize": lambda b: b.resize(2 * SIZE),
    "activate": lambda b: b.swapfile(True),
}


def _fingerprint(path: Path) -> tuple[str, int, Mark | None]:
    with open(path, "rb") as f:
        return (
            hashlib.sha256(f.read()).hexdigest(),
            os.fstat(f.fileno()).st_size,
            read_mark(f.fileno()),
        )


def _made(path: Path, policy: Policy) -> FileBackend:
    with provisioned("file", {"path": str(path)}, size=SIZE, policy=policy) as made:
        assert isinstance(made, FileBackend)
    return made


def _refused(made: FileBackend, write: str, path: Path, reason: str) -> None:
    later = rebuilt(made)
    assert isinstance(later, FileBackend)
    before = _fingerprint(path)
    with later, pytest.raises(NotOursError, match=reason):
        WRITES[write](later)
    assert _fingerprint(path) == before


@pytest.mark.parametrize("write", WRITES)
def test_it_refuses_a_file_marked_for_another_owner(
    swap_root: Path, policy: Policy, write: str
) -> None:
    path = swap_root / "swap0"
    made = _made(path, policy)
    other = str(uuid.uuid4())
    mark(path, other)
    _refused(
        made,
        write,
        path,
        rf"swap0 is not this backend's: it carries the mark of a file made by another "
        rf"swapadmin backend \({other}\).*Nothing was written",
    )


@pytest.mark.parametrize("write", WRITES)
def test_it_refuses_a_swap_file_put_in_its_place(
    swap_root: Path, policy: Policy, write: str
) -> None:
    path = swap_root / "swap0"
    made = _made(path, policy)
    ours = swap_root / "moved-away"
    os.rename(path, ours)
    kept = _fingerprint(ours)
    # A user's swap file, of the same size and formatted by util-linux, now at the path.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, SIZE)
    finally:
        os.close(fd)
    run("mkswap", "-q", str(path))
    _refused(made, write, path, "swap0 is not this backend's: it carries no swapadmin mark")
    assert _fingerprint(ours) == kept


@pytest.mark.parametrize("write", WRITES)
def test_it_refuses_another_backends_file_put_in_its_place(
    swap_root: Path, policy: Policy, write: str
) -> None:
    path = swap_root / "swap0"
    made = _made(path, policy)
    ours = swap_root / "moved-away"
    os.rename(path, ours)
    kept = _fingerprint(ours)
    theirs = _made(swap_root / "theirs", policy)
    os.rename(swap_root / "theirs", path)
    _refused(
        made,
        write,
        path,
        rf"it carries the mark of a file made by another swapadmin backend \({theirs.owner}\)",
    )
    assert _fingerprint(ours) == kept
