"""A swap root on a filesystem the machine's fstab mounts, while nothing is mounted there: no
swap file is made beneath the mount point, and none is taken for gone (review 168/8).

A data disk that failed to mount at boot (``nofail``) leaves its mount point an empty
directory of the root filesystem. Before, a provision (or the dynamic policy's next file)
made its file there, filling the root filesystem with a file hidden once the disk is
mounted; a destroy found no file and forgot the backend, leaving its file on the disk. Now
the walk from ``/`` checks, on its descriptors, that each directory the worker's own fstab
(``SWAPADMIN_MOUNT_TABLE``) names as a mount point is another mount than its parent (a
bind mount counts: its mount id is its own, where ``st_dev`` is not), and refuses, naming
the mount, when it is not; a missing mount point is never made."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import fstab, presence
from backends.errors import BackendError, KernelError, NotMountedError, UnsafeDirectoryError
from backends.plugins.file import FileBackend
from backends.plugins.loop import LoopBackend, _file_gone
from backends.policy import Policy
from tests.fixtures.host import attached_loops, mounted_image, needs_root, run
from tests.fixtures.stores import provisioned, rebuilt

SIZE = 4 * 1024 * 1024
REFUSED = r"is where .* mounts LABEL=swapdata, but nothing is mounted there"


def test_the_table_names_where_filesystems_are_mounted(tmp_path: Path) -> None:
    table = tmp_path / "fstab"
    table.write_text(
        "# a comment\n"
        "UUID=1 / ext4 defaults 0 1\n"
        "LABEL=data /srv/data/ xfs defaults,nofail 0 2\n"
        "/dev/sdb2 none swap sw 0 0\n"
        "/swapfile swap swap defaults 0 0\n"
        "/dev/sdc1 /mnt/with\\040space ext4 noauto 0 0\n"
        "/srv/a /srv/b none bind 0 0\n"
        "LABEL=e /srv/e\\000junk ext4 defaults 0 2\n"  # a NUL ends a name, as in C
    )
    assert fstab.mount_points(table) == {
        "/srv/data": "LABEL=data",
        "/mnt/with space": "/dev/sdc1",
        "/srv/b": "/srv/a",
        "/srv/e": "LABEL=e",
    }
    assert fstab.mount_points(tmp_path / "none") == {}


@contextlib.contextmanager
def data_disk(scratch: Path) -> Iterator[tuple[Path, Policy]]:
    """An ext4 image mounted at ``scratch/ext4-mnt``, which a table of its own names as
    LABEL=swapdata's mount point; the swap root is ``swap`` on it."""
    with mounted_image(scratch, "ext4", size_mb=32) as mnt:
        table = scratch / "fstab"
        table.write_text(f"LABEL=swapdata {mnt} ext4 defaults,nofail 0 2\n")
        yield mnt, Policy(swap_roots=(mnt / "swap",), mount_table=table)


def mount_again(scratch: Path, mnt: Path) -> None:
    run("mount", "-o", "loop", str(scratch / "ext4.img"), str(mnt))


@needs_root
def test_a_new_file_is_not_made_while_its_filesystem_is_not_mounted(scratch: Path) -> None:
    with data_disk(scratch) as (mnt, policy):
        run("umount", str(mnt))
        path = mnt / "swap" / "s"

        with pytest.raises(UnsafeDirectoryError, match=REFUSED):
            provisioned("file", {"path": str(path)}, size=SIZE, policy=policy)
        assert os.listdir(mnt) == []  # not even the swap root

        mount_again(scratch, mnt)
        with provisioned("file", {"path": str(path)}, size=SIZE, policy=policy):
            pass
        assert path.stat().st_dev == mnt.stat().st_dev != scratch.stat().st_dev


@needs_root
def test_a_hidden_file_is_neither_made_again_nor_taken_for_gone(scratch: Path) -> None:
    with data_disk(scratch) as (mnt, policy):
        path = mnt / "swap" / "s"
        with provisioned("file", {"path": str(path)}, size=SIZE, policy=policy) as made:
            assert isinstance(made, FileBackend)
        run("umount", str(mnt))

        later = rebuilt(made)
        assert isinstance(later, FileBackend)
        with pytest.raises(UnsafeDirectoryError, match=REFUSED):
            later.swapfile(True)  # activate's check of its store
        with pytest.raises(UnsafeDirectoryError, match=REFUSED):
            later.remove()  # destroy's: before, "gone", and the backend forgotten
        for look in (later.capacity_bytes, later.describe, later.remove, later.verify):
            with pytest.raises(NotMountedError) as hidden:
                look()
            # No "no such file" anywhere in what it was raised from or while handling:
            # every reader of the chain would take the file for gone (review 178/2).
            assert presence.errno_in_chain(hidden.value) is None, look
            assert not presence.gone(hidden.value, str(path))
        assert os.listdir(mnt) == []

        mount_again(scratch, mnt)
        again = rebuilt(made)
        assert isinstance(again, FileBackend)
        again.swapfile(True)
        again.close()
        assert again.remove() is True
        assert not path.exists()


@needs_root
def test_a_stray_file_beneath_the_mount_point_hides_nothing(scratch: Path) -> None:
    """A file left on the root filesystem where the backend's is (made there before the disk
    existed, or by a swapadmin before this check): not this backend's, but the backend's
    own file may be on the disk. Before, a destroy left the stray file and forgot the
    backend (review 180/2)."""
    with data_disk(scratch) as (mnt, policy):
        path = mnt / "swap" / "s"
        with provisioned("file", {"path": str(path)}, size=SIZE, policy=policy) as made:
            pass
        run("umount", str(mnt))
        (mnt / "swap").mkdir(mode=0o700)
        path.write_bytes(b"stray")

        later = rebuilt(made)
        assert isinstance(later, FileBackend)
        with pytest.raises(NotMountedError, match=REFUSED):
            later.verify()
        with pytest.raises(NotMountedError, match=REFUSED):
            later.remove()
        assert path.read_bytes() == b"stray"
        path.unlink()
        path.mkdir()  # a directory (or a link) where the file was: the same (181/1)
        with pytest.raises(NotMountedError, match=REFUSED):
            later.verify()
        with pytest.raises(NotMountedError, match=REFUSED):
            later.remove()
        path.rmdir()
        (mnt / "swap").rmdir()


@needs_root
def test_an_old_copy_of_its_own_file_beneath_the_mount_point_is_not_removed(scratch: Path):
    """A copy of the backend's own file, mark and all, on the root filesystem beneath the
    mount point (made there by a swapadmin before this check, then hidden when the disk
    mounted): a destroy removed it and forgot the backend, whose file is on the disk
    (review 181/2)."""
    with data_disk(scratch) as (mnt, policy):
        path = mnt / "swap" / "s"
        with provisioned("file", {"path": str(path)}, size=SIZE, policy=policy) as made:
            pass
        copy = scratch / "copy"
        shutil.copy2(path, copy)  # with its extended attributes: the mark
        run("umount", str(mnt))
        (mnt / "swap").mkdir(mode=0o700)
        copy.rename(path)

        later = rebuilt(made)
        assert isinstance(later, FileBackend)
        with pytest.raises(NotMountedError, match=REFUSED):
            later.remove()
        assert path.exists()
        path.unlink()
        (mnt / "swap").rmdir()


@needs_root
def test_no_directory_is_made_above_a_mount_point_that_is_not_there(scratch: Path) -> None:
    """The table mounts ``srv/disk1``, and not even ``srv`` is there: nothing is made on
    the way to it (review 181/7)."""
    point = scratch / "srv" / "disk1"
    table = scratch / "fstab"
    table.write_text(f"LABEL=swapdata {point} ext4 defaults 0 2\n")
    policy = Policy(swap_roots=(point / "swap",), mount_table=table)

    with pytest.raises(UnsafeDirectoryError, match=REFUSED):
        provisioned("file", {"path": str(point / "swap" / "s")}, size=SIZE, policy=policy)
    assert not (scratch / "srv").exists()


@needs_root
def test_looking_for_a_missing_file_leaks_no_descriptor(scratch: Path) -> None:
    """Every look at a file that is really gone walks to ask the mounts (review 180/1)."""
    with data_disk(scratch) as (mnt, policy):
        path = mnt / "swap" / "s"
        with provisioned("file", {"path": str(path)}, size=SIZE, policy=policy) as made:
            pass
        path.unlink()
        later = rebuilt(made)
        assert isinstance(later, FileBackend)
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(20):
            with pytest.raises(BackendError, match="does not exist"):
                later.capacity_bytes()
            assert later.remove() is True
        assert len(os.listdir("/proc/self/fd")) == before


@needs_root
def test_a_loop_device_over_a_hidden_file_is_not_forgotten(scratch: Path) -> None:
    """The loop kind's release reads its file first: a file it could not find was "gone",
    and the device serving it forgotten, still attached (review 175/2)."""
    with data_disk(scratch) as (mnt, policy):
        path = mnt / "swap" / "swap0"
        with provisioned("loop", {"path": str(path)}, size=SIZE, policy=policy) as made:
            assert isinstance(made, LoopBackend)
        device = made.state["device"]
        try:
            # The device holds the filesystem busy: only a lazy unmount takes the mount
            # away, as a sysadmin's `umount -l` of a data disk would.
            run("umount", "-l", str(mnt))
            later = rebuilt(made)
            assert isinstance(later, LoopBackend)
            with pytest.raises(UnsafeDirectoryError, match=REFUSED) as hidden:
                later.swapfile(False)
            assert not _file_gone(hidden.value)
            assert later.state.get("device") == device
            assert device in attached_loops()
        finally:
            run("losetup", "-d", device, check=False)


@needs_root
def test_a_mount_point_that_is_not_there_is_never_made(scratch: Path) -> None:
    point = scratch / "data"
    table = scratch / "fstab"
    table.write_text(f"LABEL=swapdata {point} ext4 defaults 0 2\n")
    policy = Policy(swap_roots=(point / "swap",), mount_table=table)

    with pytest.raises(UnsafeDirectoryError, match=REFUSED):
        provisioned("file", {"path": str(point / "swap" / "s")}, size=SIZE, policy=policy)
    assert not point.exists()


@needs_root
def test_a_bind_mount_is_a_mount(scratch: Path) -> None:
    """Of the same filesystem as its parent, so ``st_dev`` is the same: the mount id is not."""
    point, other = scratch / "data", scratch / "elsewhere"
    point.mkdir()
    other.mkdir()
    table = scratch / "fstab"
    table.write_text(f"{other} {point} none bind 0 0\n")
    policy = Policy(swap_roots=(point / "swap",), mount_table=table)
    path = point / "swap" / "s"

    with pytest.raises(UnsafeDirectoryError, match=f"is where {table} mounts {other}, but"):
        provisioned("file", {"path": str(path)}, size=SIZE, policy=policy)

    run("mount", "--bind", str(other), str(point))  # taken down with the scratch directory
    with provisioned("file", {"path": str(path)}, size=SIZE, policy=policy):
        pass
    assert (other / "swap" / "s").exists()


@needs_root
def test_a_file_found_is_judged_by_its_proof_whatever_the_table_says(scratch: Path) -> None:
    """A table that cannot be read, or names a mount point above a file that is there (a
    line added since), refuses no look at the file and no swapoff: only a file not found
    is asked about the mounts (review 178/8)."""
    with data_disk(scratch) as (mnt, policy):
        path = mnt / "swap" / "s"
        with provisioned("file", {"path": str(path)}, size=SIZE, policy=policy) as made:
            pass
        for table in (scratch, mnt / "nowhere"):  # a directory (EISDIR); none at all (guard)
            later = rebuilt(made, policy=dataclasses.replace(policy, mount_table=table))
            assert isinstance(later, FileBackend)
            with later:
                later.verify()
                assert later.capacity_bytes() == SIZE
        (scratch / "fstab").write_text(f"LABEL=other {mnt / 'swap'} ext4 defaults 0 2\n")
        later = rebuilt(made)  # its swap root, now said to be a mount point, is not one
        with later:
            later.verify()


@needs_root
def test_a_table_that_cannot_be_read_makes_nothing(scratch: Path) -> None:
    table = scratch / "fstab"
    table.mkdir()  # read as a file: EISDIR
    root = scratch / "swap"
    policy = Policy(swap_roots=(root,), mount_table=table)

    with pytest.raises(KernelError, match=f"cannot read {table}"):
        provisioned("file", {"path": str(root / "s")}, size=SIZE, policy=policy)
    assert not root.exists()


@needs_root
def test_only_the_mounts_are_said_as_what_may_hide_a_file(scratch: Path) -> None:
    """``hidden`` says "cannot tell whether a filesystem is mounted" for a table it cannot
    read, in the words of a NotMountedError every reader takes as "may be hidden" (183/2);
    a walk that failed for another reason is not a mount's doing, and is not said as one
    (review 184/2: a name too long read as "cannot tell whether … is mounted")."""
    root = scratch / "swap"
    root.mkdir(mode=0o700)
    table = scratch / "table"
    table.mkdir()  # read as a file: EISDIR
    policy = Policy(swap_roots=(root,), mount_table=table)
    unread = FileBackend({"path": str(root / "s")}, size_bytes=SIZE, policy=policy)
    said = unread.hidden()
    assert isinstance(said, NotMountedError), said
    assert f"cannot tell whether a filesystem on the way to {root / 's'} is mounted" in str(said)
    assert f"cannot read {table}" in str(said)

    (scratch / "empty").touch()
    policy = Policy(swap_roots=(root,), mount_table=scratch / "empty")
    long = FileBackend({"path": str(root / ("d" * 300) / "s")}, size_bytes=SIZE, policy=policy)
    said = long.hidden()
    assert type(said) is KernelError, said
    assert "File name too long" in str(said)
