"""Each errno swapon(2) returns becomes a message that names the likely cause."""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

import pytest

from backends import kernel
from backends.errors import KernelError
from tests.backends.samples import make_swapfile, swapped_off_after
from tests.fixtures.host import active_swaps, needs_root

pytestmark = [pytest.mark.root, needs_root]


def test_it_says_already_active_on_a_second_swapon(swap_root: Path) -> None:
    path = make_swapfile(swap_root)
    with swapped_off_after(path):
        kernel.swapon(str(path), priority=3)
        with pytest.raises(KernelError, match="already active as swap") as err:
            kernel.swapon(str(path), priority=4)
        assert err.value.errno == errno.EBUSY and err.value.retryable
        assert kernel.find_area(str(path)).priority == 3  # type: ignore[union-attr]


def test_it_names_the_missing_signature_of_a_file_never_formatted(swap_root: Path) -> None:
    path = swap_root / "plain"
    subprocess.run(["fallocate", "-l", "40M", str(path)], check=True)
    path.chmod(0o600)
    with swapped_off_after(path), pytest.raises(KernelError, match="run mkswap") as err:
        kernel.swapon(str(path))
    assert err.value.errno == errno.EINVAL and not err.value.retryable
    assert "no swap signature" in str(err.value)
    assert str(path) not in active_swaps()


def test_it_names_the_holes_of_a_sparse_file(swap_root: Path) -> None:
    path = swap_root / "sparse"
    with open(path, "wb") as f:
        f.truncate(40 * 2**20)
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(path)], check=True, capture_output=True)
    with swapped_off_after(path), pytest.raises(KernelError, match="holes") as err:
        kernel.swapon(str(path))
    assert err.value.errno == errno.EINVAL
    assert str(path) not in active_swaps()


def test_it_names_a_filesystem_without_swap_support(scratch: Path) -> None:
    mnt = scratch / "tmpfs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64M", "tmpfs", str(mnt)], check=True)
    path = mnt / "area.swap"
    try:
        with open(path, "wb") as f:
            f.write(b"\0" * 40 * 2**20)
        subprocess.run(["mkswap", "-q", str(path)], check=True, capture_output=True)
        with swapped_off_after(path), pytest.raises(KernelError, match="tmpfs filesystem"):
            kernel.swapon(str(path))
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_it_says_when_the_file_does_not_exist(swap_root: Path) -> None:
    with pytest.raises(KernelError, match="no such file") as err:
        kernel.swapon(str(swap_root / "missing"))
    assert err.value.errno == errno.ENOENT
