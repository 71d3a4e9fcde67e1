"""Opening a path under a swap root so that what was checked is what gets written.

Checking a path and then opening it again proves nothing: between the two, a directory on
the way can become a symlink, or another file can be renamed into place. So this module
walks from ``/`` one component at a time with ``openat`` and ``O_NOFOLLOW``, checks every
directory on the descriptor it holds (never by name again), and returns descriptors for
the final directory and file. Callers then check and write through those descriptors only.

The rules for directories are those of OpenSSH's StrictModes, tightened inside the roots:
- above a swap root, a directory must be owned by root and writable by nobody else, unless
  it is sticky (``/tmp``, ``/var/tmp``): there others may add names but never rename or
  remove root's;
- a swap root and every directory below it must be owned by root and writable by root only,
  sticky or not: anyone who may rename entries there may swap another file in.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .errors import (
    KernelError,
    NotMountedError,
    UnsafeDirectoryError,
    UnsafeError,
    ValidationError,
)

_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class Beneath:
    """The open parent directory of a path under a swap root, and the final name in it."""

    dirfd: int
    name: str
    path: str
    root: str

    def close(self) -> None:
        if self.dirfd >= 0:
            os.close(self.dirfd)
            self.dirfd = -1

    def __enter__(self) -> Beneath:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Mounts:
    """Where a mount table (``table``, the worker's own fstab) mounts filesystems: each mount
    point, with what is mounted there. A walk that passes one must cross into another
    mount there; else the filesystem is not mounted, and a file made beneath would land
    on the filesystem below, hidden once it is mounted (and a file looked for would be
    taken for gone: review 168/8)."""

    table: str
    points: Mapping[str, str]


def _mount_id(fd: int, where: str) -> int:
    """The id of the mount ``fd`` is on (``mnt_id`` in /proc/self/fdinfo): a bind mount of
    the same filesystem has its own, as ``st_dev`` does not."""
    try:
        with open(f"/proc/self/fdinfo/{fd}", encoding="ascii") as f:
            info = f.read()
    except OSError as e:
        raise _kernel_error(where, e) from e
    for line in info.split("\n"):
        key, _, value = line.partition(":")
        if key == "mnt_id" and value.strip().isdecimal():
            return int(value)
    raise KernelError(f"cannot tell which mount {where} is on: /proc/self/fdinfo names none")


def _not_mounted(where: str, mounts: Mounts) -> NotMountedError:
    what = mounts.points[where]
    return NotMountedError(
        f"{where} is where {mounts.table} mounts {what}, but nothing is mounted there: a "
        f"swap file made or looked for now would be on the filesystem beneath, hidden once "
        f"{what} is mounted. Mount it (mount {where}) and try again, or take its line out "
        f"of {mounts.table} if it is no longer meant to be mounted"
    )


def _point_from(where: str, path: str, mounts: Mounts | None) -> str | None:
    """The first mount point of ``mounts`` on the way to ``path`` at or below ``where``, a
    directory not there: it is not mounted, and neither it nor any directory above it is
    made (a directory made on the root filesystem for a disk that did not mount: 181/7)."""
    if mounts is None:
        return None
    pure = PurePosixPath(path)
    on_the_way = [
        p
        for p in mounts.points
        if PurePosixPath(p) != pure
        and pure.is_relative_to(p)
        and PurePosixPath(p).is_relative_to(where)
    ]
    return min(on_the_way, key=len) if on_the_way else None


def _check_mounted(parent: int, fd: int, where: str, mounts: Mounts | None) -> None:
    """Raise unless ``fd`` (``where``, opened from ``parent``) is another mount than its
    parent's, when the table says a filesystem is mounted at ``where``."""
    if mounts is None or where not in mounts.points:
        return
    try:
        same = _mount_id(fd, where) == _mount_id(parent, os.path.dirname(where))
    except KernelError as e:
        unknown = e.message
    else:
        if same:
            raise _not_mounted(where, mounts)
        return
    # Raised here, not while the KernelError is handled: it may carry ENOENT (no /proc),
    # and "cannot tell" must not read as "no such file", so as gone (review 180/4).
    raise NotMountedError(
        f"cannot tell whether {where}, where {mounts.table} mounts {mounts.points[where]}, is "
        f"mounted: {unknown}. Nothing beneath it is made, or taken for gone, until it can"
    )


def unmounted_on_the_way(path: str, mounts: Mounts) -> UnsafeError | KernelError | None:
    """For a reader that found nothing at ``path`` by name (the sampler, the health check):
    why that says nothing of whether the file is there, because a mount point above it
    that ``mounts`` names has nothing mounted (NotMountedError: the file may be on the
    filesystem meant to be there), or that cannot be told (KernelError); None when every
    such mount is there. By name, not by a walk's descriptors: no write follows it."""
    pure = PurePosixPath(path)
    for point in sorted(mounts.points):
        if pure == PurePosixPath(point) or not pure.is_relative_to(point):
            continue
        try:
            fd = os.open(point, _DIR_FLAGS)
        except FileNotFoundError:
            return _not_mounted(point, mounts)
        except OSError as e:
            return _kernel_error(point, e)
        try:
            up = os.open(os.path.dirname(point), _DIR_FLAGS)
        except OSError as e:
            os.close(fd)
            return _kernel_error(os.path.dirname(point), e)
        try:
            _check_mounted(up, fd, point, mounts)
        except (UnsafeError, KernelError) as e:
            return e
        finally:
            os.close(up)
            os.close(fd)
    return None


def root_of(path: str, roots: Sequence[Path | str]) -> str:
    """The swap root that holds ``path`` strictly inside it (lexically)."""
    pure = PurePosixPath(path)
    for r in roots:
        root = PurePosixPath(os.path.normpath(str(r)))
        if pure != root and pure.is_relative_to(root):
            return str(root)
    allowed = ":".join(str(r) for r in roots)
    raise ValidationError(f"{path} is outside the swap roots ({allowed})", field="path")


def _kernel_error(where: str, e: OSError) -> KernelError:
    return KernelError(f"cannot open {where}: {e.strerror}", errno=e.errno)


def _check_dir(fd: int, where: str, *, inside_root: bool, is_root: bool = False) -> None:
    try:
        st = os.fstat(fd)
    except OSError as e:
        raise _kernel_error(where, e) from e
    if st.st_uid != 0:
        raise UnsafeDirectoryError(
            f"{where} is owned by uid {st.st_uid}, not root: whoever owns it can swap another "
            f"file in under swapadmin. Fix with: chown root {where}"
        )
    loose = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if loose and (inside_root or not st.st_mode & stat.S_ISVTX):
        mode = stat.S_IMODE(st.st_mode)
        what = (
            "the swap root"
            if is_root
            else "a directory under the swap root"
            if inside_root
            else "a directory above the swap root"
        )
        raise UnsafeDirectoryError(
            f"{where} ({what}) has mode {mode:o}: others may rename files in it, so a file "
            f"checked there could be replaced before it is written. Fix with: chmod go-w {where}"
        )


def _is_link(parent: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _open_dir(parent: int, name: str, where: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            # O_NOFOLLOW with O_DIRECTORY says ENOTDIR for a link: name what it really is.
            link = e.errno == errno.ELOOP or _is_link(parent, name)
            kind = "a symbolic link" if link else "not a directory"
            raise UnsafeError(
                f"{where} is {kind}; swapadmin walks to a swap file through real directories "
                "only (a link could point swap, written with root's rights, anywhere)"
            ) from e
        if e.errno == errno.ENOENT:
            raise
        raise _kernel_error(where, e) from e


@contextlib.contextmanager
def _owned(fd: int) -> Iterator[int]:
    try:
        yield fd
    except BaseException:
        os.close(fd)
        raise


def open_parent(
    path: str,
    roots: Sequence[Path | str],
    *,
    create: bool = False,
    mounts: Mounts | None = None,
) -> Beneath:
    """Walk to the directory holding ``path`` (which must lie strictly inside one of
    ``roots``), checking each directory on its descriptor. With ``create``, directories
    missing on the way are made (0700, root's), as a fresh host lacks its swap root; never
    a mount point of ``mounts``, which must be mounted (on the descriptor: another mount
    than its parent's). Raises UnsafeError naming the first unsafe component,
    FileNotFoundError when a directory is missing and not ``create``."""
    root = root_of(path, roots)
    parts = PurePosixPath(path).parts[1:]
    root_depth = len(PurePosixPath(root).parts) - 1
    where = "/"
    try:
        fd = os.open("/", _DIR_FLAGS)
    except OSError as e:
        raise _kernel_error(where, e) from e
    with _owned(fd):
        _check_dir(fd, where, inside_root=False)
    for depth, part in enumerate(parts[:-1], start=1):
        where = os.path.join(where, part)
        inside = depth >= root_depth
        try:
            nxt = _open_dir(fd, part, where)
        except FileNotFoundError:
            missing = _point_from(where, path, mounts)
            if missing is not None:
                nxt = -1  # raised below, outside this handler (``_not_mounted``)
            elif not create:
                os.close(fd)
                raise
            else:
                with _owned(fd):
                    try:
                        os.mkdir(part, 0o700, dir_fd=fd)
                    except FileExistsError:
                        pass
                    except OSError as e:
                        raise _kernel_error(where, e) from e
                    nxt = _open_dir(fd, part, where)
        except BaseException:
            os.close(fd)
            raise
        if nxt < 0:
            # Not while the FileNotFoundError is handled: it would be the refusal's
            # context, which callers read as "no file there" (the loop kind's
            # ``_file_gone``), so as gone.
            os.close(fd)
            assert mounts is not None and missing is not None
            raise _not_mounted(missing, mounts)
        try:
            _check_mounted(fd, nxt, where, mounts)
        except BaseException:
            os.close(nxt)
            os.close(fd)
            raise
        os.close(fd)
        fd = nxt
        with _owned(fd):
            _check_dir(fd, where, inside_root=inside, is_root=depth == root_depth)
    return Beneath(dirfd=fd, name=parts[-1], path=path, root=root)


def open_regular(parent: Beneath, flags: int, mode: int = 0o600) -> int:
    """Open the regular file ``parent.name`` names in ``parent``'s directory with ``flags``.
    What the name is comes first (``fstatat``, not following links): a symlink, directory,
    FIFO or device node is refused before any open runs its driver; the descriptor is then
    checked to be that same file. FileNotFoundError when there is nothing there."""
    path = parent.path
    try:
        st = os.stat(parent.name, dir_fd=parent.dirfd, follow_symlinks=False)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise _kernel_error(path, e) from e
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeError(
            f"{path} is a symbolic link; swapadmin refuses symlinks anywhere in a swap "
            "file's path. Use the real path instead."
        )
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeError(f"{path} exists and is not a regular file; swapadmin leaves it be")
    try:
        fd = os.open(parent.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=parent.dirfd)
    except OSError as e:
        if e.errno == errno.ENOENT:
            raise
        raise KernelError(f"cannot open {path}: {e.strerror}", errno=e.errno) from e
    got = os.fstat(fd)
    if (got.st_dev, got.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        raise UnsafeError(f"{path} was replaced while it was being opened; try again")
    return fd


def open_beneath(
    path: str,
    roots: Sequence[Path | str],
    flags: int,
    mode: int = 0o600,
    *,
    create_dirs: bool = False,
    mounts: Mounts | None = None,
) -> tuple[Beneath, int]:
    """Open the regular file ``path`` under a swap root with ``flags`` (see
    ``open_regular``): returns the parent directory and the file's descriptor. A symlink
    anywhere on the way or as the last component is refused."""
    parent = open_parent(path, roots, create=create_dirs, mounts=mounts)
    try:
        fd = open_regular(parent, flags, mode)
    except BaseException:
        parent.close()
        raise
    return parent, fd
