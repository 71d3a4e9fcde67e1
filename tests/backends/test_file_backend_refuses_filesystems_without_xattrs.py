"""Where the mark cannot be set (a filesystem without extended attributes), creating the
file is refused with that reason and the file just made is removed: without the mark
swapadmin could not later tell its file from someone else's. ext4, xfs and btrfs all keep
the mark, so the refusal is simulated by failing setxattr."""

from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path
from typing import NoReturn

import pytest

from backends.errors import UnsafeError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root

SIZE = 4 * 1024 * 1024


@needs_root
def test_it_refuses_and_removes_the_new_file(
    swap_root: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_xattrs(*args: object, **kw: object) -> NoReturn:
        raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))

    monkeypatch.setattr(os, "setxattr", no_xattrs)
    path = swap_root / "swap0"
    backend = FileBackend(
        {"path": str(path)},
        size_bytes=SIZE,
        policy=policy,
        provisioning=True,
        owner=str(uuid.uuid4()),
    )
    with pytest.raises(UnsafeError, match="does not support extended attributes"):
        backend.swapfile(True)
    assert not path.exists()
