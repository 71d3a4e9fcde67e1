"""mkswap and set_badpages refuse what util-linux or the kernel would refuse, with a reason,
and leave every byte of the area as it was."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from backends.base import PAGE_SIZE
from backends.errors import (
    ActiveAreaError,
    BackendError,
    HeaderError,
    NotOursError,
    ValidationError,
)
from backends.header import mkswap, read_header, set_badpages
from tests.backends.test_header_roundtrips_with_util_linux import plain, swap_file
from tests.fixtures.host import needs_root, run

pytestmark = [pytest.mark.root, needs_root]


def digest(path: str | Path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def refused(
    path: str | Path, call: Callable[[], object], error: type[BackendError], match: str
) -> None:
    before = digest(path)
    with pytest.raises(error, match=match):
        call()
    assert digest(path) == before


def patterned(path: Path, pages: int) -> Path:
    """A file full of non-zero bytes, so a stray write would show."""
    path.write_bytes(os.urandom(pages * PAGE_SIZE))
    path.chmod(0o600)
    return path


def test_it_refuses_an_area_of_fewer_than_ten_pages(swap_root: Path) -> None:
    path = patterned(swap_root / "small", 9)
    with plain(path) as backend:
        refused(path, lambda: mkswap(backend), ValidationError, "holds 9 whole pages.*at least 10")


def test_it_refuses_a_label_longer_than_sixteen_bytes(swap_root: Path) -> None:
    path = patterned(swap_root / "area", 16)
    with plain(path) as backend:
        refused(
            path,
            lambda: mkswap(backend, label="x" * 17),
            ValidationError,
            "17 bytes in UTF-8; a swap label holds at most 16",
        )


def test_it_refuses_a_bad_page_outside_the_area(loop_device: str) -> None:
    with plain(Path(loop_device)) as backend:
        refused(
            loop_device,
            lambda: mkswap(backend, badpages=[16384]),
            ValidationError,
            "bad page 16384 is outside the area's pages 1..16383",
        )


def test_it_refuses_so_many_bad_pages_that_fewer_than_ten_good_remain(swap_root: Path) -> None:
    path = patterned(swap_root / "area", 12)
    with plain(path) as backend:
        refused(
            path,
            lambda: mkswap(backend, badpages=[1, 2, 3]),
            ValidationError,
            "3 bad pages leave fewer than 10 good pages",
        )


def test_it_refuses_bad_pages_on_a_regular_file(swap_root: Path) -> None:
    path = patterned(swap_root / "area", 64)
    with plain(path) as backend:
        refused(
            path,
            lambda: mkswap(backend, badpages=[5]),
            ValidationError,
            "regular file, and the kernel refuses",
        )


def test_it_refuses_an_area_active_in_proc_swaps(swap_root: Path) -> None:
    path = swap_file(swap_root)
    run("mkswap", "-L", "live", str(path))
    run("swapon", str(path))
    try:
        with plain(path) as backend:
            refused(path, lambda: mkswap(backend, label="new"), ActiveAreaError, "is active")
            refused(path, lambda: set_badpages(backend, []), ActiveAreaError, "is active")
            assert read_header(backend).label == "live"
    finally:
        run("swapoff", str(path))


def test_it_refuses_to_set_bad_pages_on_an_area_without_a_header(loop_device: str) -> None:
    with plain(Path(loop_device)) as backend:
        refused(loop_device, lambda: set_badpages(backend, [3]), HeaderError, "no swap header")


def test_it_refuses_to_set_bad_pages_out_of_range(loop_device: str) -> None:
    run("mkswap", loop_device)
    with plain(Path(loop_device)) as backend:
        refused(loop_device, lambda: set_badpages(backend, [0]), ValidationError, "bad page 0")


def test_it_refuses_an_area_it_never_took(swap_root: Path) -> None:
    # Not a provision, and no swap UUID of its own recorded: the area is not proven ours,
    # even when it already is a swap area (util-linux's).
    path = swap_file(swap_root)
    run("mkswap", "-L", "theirs", str(path))
    with plain(path, take=False) as backend:
        refused(path, lambda: mkswap(backend), NotOursError, "never formatted by this backend")
        refused(
            path, lambda: set_badpages(backend, []), NotOursError, "never formatted by this backend"
        )
        assert read_header(backend).label == "theirs"
