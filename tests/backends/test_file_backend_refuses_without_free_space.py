"""A swap file that would fill its filesystem is refused with the numbers, before creation."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from backends.errors import UnsafeError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import mounted_image, needs_root
from tests.fixtures.stores import provisioned, rebuilt


@needs_root
def test_it_refuses_a_file_larger_than_the_free_space(scratch: Path) -> None:
    with mounted_image(scratch, "ext4", size_mb=64) as mnt:
        path = mnt / "swap0"
        backend = FileBackend(
            {"path": str(path)},
            size_bytes=256 * 1024 * 1024,
            policy=Policy(swap_roots=(mnt,)),
            provisioning=True,
            owner=str(uuid.uuid4()),
        )
        with pytest.raises(
            UnsafeError,
            match=r"needs 268435456 bytes, \d+ are free and "
            r"swapadmin keeps \d+ .* in reserve",
        ):
            backend.swapfile(True)
        assert not path.exists()


@needs_root
def test_it_refuses_to_grow_past_the_free_space(scratch: Path) -> None:
    with mounted_image(scratch, "ext4", size_mb=64) as mnt:
        path = mnt / "swap0"
        policy = Policy(swap_roots=(mnt,))
        with provisioned("file", {"path": str(path)}, size=4 * 1024 * 1024, policy=policy) as made:
            pass
        before = path.read_bytes()
        backend = rebuilt(made)  # the resize job
        with backend, pytest.raises(UnsafeError, match="not enough free space"):
            backend.resize(512 * 1024 * 1024)
        assert path.stat().st_size == 4 * 1024 * 1024
        assert path.read_bytes() == before
