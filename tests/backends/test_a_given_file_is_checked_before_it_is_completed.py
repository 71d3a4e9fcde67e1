"""A file a person gave under force, whose provision stopped before its header, is brought
to the size asked when it is provisioned again. Every check a swap file must pass is made
before it is changed (review 217/2), and one with a hole is refused before the growth would
fill it, so that what a refusal gives back (its length) is all the growth took (217/3):
the file's length and data are as its owner left them."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from backends.errors import UnsafeError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root

MiB = 1 << 20


def _given(path: Path) -> Callable[[int], FileBackend]:
    """A person's 4 MiB data file, given under force to a backend that never formatted it;
    a factory of that backend's provisions at a size."""
    owner = str(uuid.uuid4())
    path.write_bytes(os.urandom(4 * MiB))
    path.chmod(0o600)

    def provision(size: int) -> FileBackend:
        return FileBackend(
            {"path": str(path)}, size_bytes=size, policy=Policy(swap_roots=(path.parent,)),
            provisioning=True, owner=owner, force=True,
        )  # fmt: skip

    with provision(4 * MiB) as first:
        first.swapfile(True)
    return provision


@needs_root
def test_a_given_file_made_readable_is_refused_before_it_grows(swap_root: Path) -> None:
    path = swap_root / "given"
    provision = _given(path)
    path.chmod(0o644)
    before = path.read_bytes()
    with provision(16 * MiB) as again, pytest.raises(UnsafeError) as refusal:
        again.swapfile(True)
    assert "mode 644, not 600" in refusal.value.message, refusal.value.message
    assert path.stat().st_size == 4 * MiB and path.read_bytes() == before


@needs_root
@pytest.mark.parametrize("size", [16 * MiB, 2 * MiB], ids=["grown", "cut"])
def test_a_given_file_with_a_hole_is_refused_before_it_changes(swap_root: Path, size: int) -> None:
    path = swap_root / "given"
    provision = _given(path)
    # A hole its owner punched in the first MiB since (util-linux's fallocate).
    subprocess.run(
        ["fallocate", "--punch-hole", "--offset", "0", "--length", str(MiB), str(path)],
        check=True,
    )
    before = path.read_bytes()
    with provision(size) as again, pytest.raises(UnsafeError) as refusal:
        again.swapfile(True)
    assert "hole" in refusal.value.message, refusal.value.message
    assert path.stat().st_size == 4 * MiB and path.read_bytes() == before
