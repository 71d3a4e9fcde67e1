"""tmpfs and overlayfs get a clear refusal instead of the kernel's bare EINVAL at swapon."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends.errors import UnsafeError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run

SIZE = 1024 * 1024


def _mount_tmpfs(scratch: Path) -> Path:
    mnt = scratch / "tmpfs"
    mnt.mkdir()
    run("mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(mnt))
    return mnt


def _mount_overlay(scratch: Path) -> Path:
    for d in ("lower", "upper", "work", "overlay"):
        (scratch / d).mkdir()
    opts = f"lowerdir={scratch}/lower,upperdir={scratch}/upper,workdir={scratch}/work"
    run("mount", "-t", "overlay", "-o", opts, "overlay", str(scratch / "overlay"))
    return scratch / "overlay"


@needs_root
@pytest.mark.parametrize(
    ("fstype", "mount"), [("tmpfs", _mount_tmpfs), ("overlayfs", _mount_overlay)]
)
def test_it_refuses_and_creates_nothing(scratch: Path, fstype: str, mount: object) -> None:
    root = mount(scratch)  # type: ignore[operator]
    path = root / "swap0"
    backend = FileBackend(
        {"path": str(path)},
        size_bytes=SIZE,
        policy=Policy(swap_roots=(root,)),
        provisioning=True,
        owner=str(uuid.uuid4()),
    )
    with pytest.raises(
        UnsafeError, match=f"{path} would be on {fstype}, where the kernel cannot swap to a file"
    ):
        backend.swapfile(True)
    assert list(Path(root).iterdir()) == []
