"""A store whose page 0 cannot be read, or whose device node was replaced by a plain file,
is said to be so: not taken for another's swap area (review 168/1), nor for a store that is
gone or damaged (review 168/3).

Before, ``header_uuid`` took a failed read of page 0 (EIO on a sick disk) for "no header",
so ``check_swap_uuid`` called the backend's own store "not this backend's" (a FOREIGN
verdict; its live area offered for adoption). And a plain file where a block backend's
device was (``dd of=/dev/sdb1`` while the disk was missing) was "not a block device", a
ValidationError with no errno: the observer read it as absent and offered a provision."""

from __future__ import annotations

import errno
import os
import stat
import uuid
from pathlib import Path

import pytest

from backends import store as store_mod
from backends.base import PAGE_SIZE
from backends.errors import KernelError, NotOursError
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, rebuilt


def test_a_page_0_that_cannot_be_read_is_an_error_not_no_header(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)  # pread on it: EISDIR, as EIO
    try:
        with pytest.raises(KernelError, match="cannot read page 0") as e:
            store_mod.header_uuid(fd, PAGE_SIZE)
        assert e.value.errno == errno.EISDIR
    finally:
        os.close(fd)
    (tmp_path / "zeros").write_bytes(bytes(PAGE_SIZE))
    fd = os.open(tmp_path / "zeros", os.O_RDONLY)
    try:
        assert store_mod.header_uuid(fd, PAGE_SIZE) is None  # read, and no header: None
    finally:
        os.close(fd)


@needs_root
def test_the_uuid_check_of_an_unreadable_page_0_is_no_verdict(
    swap_root: Path, policy: Policy, tmp_path: Path
) -> None:
    with provisioned("file", {"path": str(swap_root / "s")}, size=1 << 20, policy=policy) as made:
        pass
    later = rebuilt(made)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    unreadable = store_mod.Store(fd, False, str(swap_root / "s"), "file:0:0")
    try:
        with pytest.raises(KernelError, match="cannot read page 0") as e:
            later.check_swap_uuid(unreadable)
        assert not isinstance(e.value, NotOursError)
    finally:
        unreadable.close()


@needs_root
def test_a_file_where_the_backends_device_was_is_not_its_store(
    loop_device: str, policy: Policy
) -> None:
    # A node of the test's own loop device, so that it can be replaced; never a disk's.
    node = Path(f"/dev/swapadmin-test-{uuid.uuid4().hex[:8]}")
    os.mknod(node, 0o600 | stat.S_IFBLK, os.stat(loop_device).st_rdev)
    try:
        with provisioned("block", {"device": str(node)}, size=None, policy=policy) as made:
            pass
        later = rebuilt(made)
        node.unlink()
        node.write_bytes(bytes(4 * PAGE_SIZE))  # what `dd of=` makes while the disk is gone
        with pytest.raises(NotOursError, match="is not a block device any more"):
            later.verify()
        with pytest.raises(NotOursError, match="Nothing was written"):
            later.open_store(True)
    finally:
        node.unlink(missing_ok=True)
