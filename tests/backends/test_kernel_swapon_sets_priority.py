"""swapon(2) through ctypes activates a real swap file with the asked priority and discard."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backends import kernel
from backends.errors import ValidationError
from tests.backends.samples import make_swapfile, swapped_off_after
from tests.fixtures.host import active_swaps, needs_root

pytestmark = [pytest.mark.root, needs_root]


def test_it_shows_the_priority_in_proc_swaps(swap_root: Path) -> None:
    path = make_swapfile(swap_root)
    with swapped_off_after(path):
        kernel.swapon(str(path), priority=1234)
        area = kernel.find_area(str(path))
        assert area is not None
        assert (area.priority, area.type, area.used_bytes) == (1234, "file", 0)
        assert area.size_bytes == 40 * 2**20 - 4096  # less the header page


def test_it_leaves_the_priority_to_the_kernel_when_none_is_asked(swap_root: Path) -> None:
    path = make_swapfile(swap_root)
    with swapped_off_after(path):
        kernel.swapon(str(path))
        area = kernel.find_area(str(path))
        assert area is not None and area.priority < 0


@pytest.mark.parametrize("discard", ["both", "once", "pages"])
def test_it_accepts_each_discard_policy(swap_root: Path, discard: str) -> None:
    path = make_swapfile(swap_root)
    with swapped_off_after(path):
        kernel.swapon(str(path), priority=5, discard=discard)
        assert kernel.is_active(str(path))


def test_it_matches_other_spellings_of_the_same_file(swap_root: Path) -> None:
    path = make_swapfile(swap_root)
    link = swap_root / "link"
    link.symlink_to(path)
    with swapped_off_after(path):
        kernel.swapon(str(path))
        assert kernel.is_active(str(link))
        assert kernel.is_active(f"{swap_root}//./{path.name}")
        assert kernel.is_active(os.path.relpath(path))
        assert not kernel.is_active(str(swap_root / "other"))


def test_it_matches_a_loop_device_by_its_device_number(loop_device: str, scratch: Path) -> None:
    import subprocess

    subprocess.run(["mkswap", "-q", loop_device], check=True)
    alias = scratch / "alias"
    os.mknod(alias, 0o600 | 0o060000, os.stat(loop_device).st_rdev)
    with swapped_off_after(loop_device):
        kernel.swapon(loop_device, priority=9)
        assert kernel.is_active(str(alias))
        area = kernel.find_area(str(alias))
        assert area is not None and area.path == loop_device and area.type == "partition"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"priority": -1}, "between 0 and 32767"),
        ({"priority": 32768}, "between 0 and 32767"),
        ({"priority": True}, "whole number"),
        ({"discard": "always"}, "discard must be one of both, once, pages"),
    ],
)
def test_it_refuses_bad_flags_before_calling_the_kernel(
    swap_root: Path, kwargs: dict[str, object], message: str
) -> None:
    path = make_swapfile(swap_root)
    with swapped_off_after(path), pytest.raises(ValidationError, match=message):
        kernel.swapon(str(path), **kwargs)  # type: ignore[arg-type]
    assert str(path) not in active_swaps()


def test_it_refuses_a_relative_path(swap_root: Path) -> None:
    path = make_swapfile(swap_root)
    with swapped_off_after(path), pytest.raises(ValidationError, match="not an absolute path"):
        kernel.swapon(os.path.relpath(path))
    assert str(path) not in active_swaps()
