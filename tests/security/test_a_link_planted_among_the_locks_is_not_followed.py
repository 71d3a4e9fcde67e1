"""Under `make run` the data directory belongs to the account web and beat run as, and the
root worker takes its host locks in DATA_DIR/locks. A link planted there (by a compromised
web process) must not make root create or open a file anywhere else: before, a lock named
by a symbolic link to, say, /etc/nologin created that file as root."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from swapadmin.core import locks


@pytest.fixture
def data_dir(settings, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def test_a_lock_file_that_is_a_link_is_refused(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "nologin"
    target.parent.mkdir()
    (data_dir / "locks").mkdir()
    (data_dir / "locks" / "host-memory.lock").symlink_to(target)
    with pytest.raises(OSError) as e, locks.exclusive("host-memory"):
        pass
    assert e.value.errno == errno.ELOOP
    assert not target.exists()


def test_a_locks_directory_that_is_a_link_is_refused(data_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "etc"
    elsewhere.mkdir()
    (data_dir / "locks").symlink_to(elsewhere)
    with pytest.raises(OSError) as e, locks.exclusive("host-memory"):
        pass
    assert e.value.errno in (errno.ELOOP, errno.ENOTDIR)
    assert list(elsewhere.iterdir()) == []


def test_a_plain_lock_is_taken_and_made_0600(data_dir: Path) -> None:
    with locks.exclusive("host-memory"):
        made = data_dir / "locks" / "host-memory.lock"
        assert made.stat().st_mode & 0o777 == 0o600
    with locks.exclusive("host-memory"):  # and taken again once let go
        pass
