"""Swap files under a configured swap root, on ext4, xfs and btrfs.

The kernel swaps to a file by mapping its blocks once at swapon and then writing to the
disk directly, bypassing the filesystem. So the file must have every block allocated (no
holes), must never move (no copy-on-write, no shared extents, no compression, no inline
data), and, being written with kernel privileges, must be reachable only by root. This
module makes such a file and proves it with FIEMAP before swapon is asked to trust it.

A path under a swap root may already hold a file swapadmin never made: a database someone
put there, another tool's swap file. So every file this module creates carries a mark (the
``trusted.swapadmin`` extended attribute, which only root can set), and an existing file is
formatted only when it carries the mark or already is a swap area, and deleted only when it
carries the mark.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final

from .. import devices
from ..base import PAGE_SIZE, Parameter, SwapBackend
from ..errors import ActiveAreaError, BackendError, KernelError, UnsafeError
from ..header import MAGIC
from ..policy import (
    Policy,
    check_free_space,
    check_no_symlinks,
    check_swap_filesystem,
    check_swap_path,
)

FS_IOC_GETFLAGS: Final = 0x80086601
FS_IOC_SETFLAGS: Final = 0x40086602
FS_IOC_FIEMAP: Final = 0xC020660B
FS_NOCOW_FL: Final = 0x00800000

FIEMAP_FLAG_SYNC: Final = 0x1
FIEMAP_EXTENT_LAST: Final = 0x1
#: Extent flags that mean the kernel cannot (or must not) write the blocks behind the
#: filesystem's back, with the reason a sysadmin reads.
FIEMAP_BAD_FLAGS: Final[dict[int, str]] = {
    0x2: "has an extent whose location is unknown",
    0x4: "has delayed-allocation extents not yet on disk",
    0x8: "has compressed or encoded extents",
    0x80: "has encrypted extents the kernel cannot address directly",
    0x100: "has extents not aligned to blocks",
    0x200: "keeps data inline in its metadata",
    0x400: "packs data into a shared tail block",
    0x2000: "shares extents with another file (a reflink copy or snapshot)",
}
_FIEMAP_HEAD = struct.Struct("=QQIIII")
_FIEMAP_EXTENT = struct.Struct("=QQQQQIIII")
_EXTENTS_PER_CALL = 256

#: Set on every file this module creates. The trusted namespace is root's alone (reading or
#: writing it needs CAP_SYS_ADMIN), so a user cannot forge the mark, and ext4, xfs and btrfs
#: all keep it.
MARK_NAME: Final = "trusted.swapadmin"
MARK_VALUE: Final = b"swapadmin"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Extent:
    logical: int
    physical: int
    length: int
    flags: int


def fiemap(fd: int) -> list[Extent]:
    """Every extent of the open file, after syncing it (FIEMAP_FLAG_SYNC)."""
    extents: list[Extent] = []
    start = 0
    while True:
        head = _FIEMAP_HEAD.pack(
            start, 2**64 - 1 - start, FIEMAP_FLAG_SYNC, 0, _EXTENTS_PER_CALL, 0
        )
        buf = bytearray(head + bytes(_FIEMAP_EXTENT.size * _EXTENTS_PER_CALL))
        try:
            fcntl.ioctl(fd, FS_IOC_FIEMAP, buf)
        except OSError as e:
            raise KernelError(f"FIEMAP failed: {e.strerror}", errno=e.errno) from e
        mapped = _FIEMAP_HEAD.unpack_from(buf)[3]
        if mapped == 0:
            return extents
        for i in range(mapped):
            f = _FIEMAP_EXTENT.unpack_from(buf, _FIEMAP_HEAD.size + i * _FIEMAP_EXTENT.size)
            extents.append(Extent(logical=f[0], physical=f[1], length=f[2], flags=f[5]))
        last = extents[-1]
        if last.flags & FIEMAP_EXTENT_LAST:
            return extents
        start = last.logical + last.length


def extent_problems(extents: list[Extent], size: int) -> list[str]:
    """What stops the kernel from swapping to a file of ``size`` bytes with these extents.
    Unwritten (preallocated) extents are fine: swapon maps them and writes pages itself."""
    problems: list[str] = []
    expected = 0
    for ext in extents:
        if ext.logical >= size:
            break
        if ext.logical > expected:
            problems.append(f"has a hole at bytes {expected}..{ext.logical}")
        expected = max(expected, ext.logical + ext.length)
        problems += [why for bit, why in FIEMAP_BAD_FLAGS.items() if ext.flags & bit]
    if expected < size:
        problems.append(f"has a hole at bytes {expected}..{size}")
    return list(dict.fromkeys(problems))


@contextlib.contextmanager
def _opened(path: str, flags: int, mode: int = 0o600) -> Iterator[int]:
    try:
        fd = os.open(path, flags | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    except OSError as e:
        raise KernelError(f"cannot open {path}: {e.strerror}", errno=e.errno) from e
    try:
        yield fd
    finally:
        os.close(fd)


def set_nocow(fd: int, path: str) -> None:
    """Mark an empty file NOCOW (chattr +C): btrfs only honours it before data is written."""
    flags = struct.unpack("=i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 4))[0]
    try:
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("=i", flags | FS_NOCOW_FL))
    except OSError as e:
        raise KernelError(f"cannot set NOCOW on {path}: {e.strerror}", errno=e.errno) from e


def is_nocow(fd: int) -> bool:
    flags = struct.unpack("=i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 4))[0]
    return bool(flags & FS_NOCOW_FL)


def set_mark(fd: int, path: str) -> None:
    """Mark the open file as made by swapadmin; refuse a filesystem that cannot keep marks."""
    try:
        os.setxattr(fd, MARK_NAME, MARK_VALUE)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise UnsafeError(
                f"cannot mark {path} as made by swapadmin: its filesystem does not support "
                f"extended attributes ({MARK_NAME}). Without the mark swapadmin could not tell "
                "its swap files from other files later; use a swap root on ext4, xfs or btrfs."
            ) from e
        raise KernelError(
            f"cannot mark {path} as made by swapadmin ({MARK_NAME}): {e.strerror}", errno=e.errno
        ) from e


def has_mark(fd: int) -> bool:
    try:
        return os.getxattr(fd, MARK_NAME) == MARK_VALUE
    except OSError as e:
        if e.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
            return False
        raise KernelError(f"cannot read {MARK_NAME}: {e.strerror}", errno=e.errno) from e


def holds_swap_signature(fd: int) -> bool:
    """True when page 0 ends with the SWAPSPACE2 magic: the file already is a swap area."""
    try:
        tail = os.pread(fd, len(MAGIC), PAGE_SIZE - len(MAGIC))
    except OSError as e:
        raise KernelError(f"cannot read page 0: {e.strerror}", errno=e.errno) from e
    return tail == MAGIC


def _allocate(fd: int, path: str, size: int) -> None:
    try:
        os.posix_fallocate(fd, 0, size)
        os.fsync(fd)
    except OSError as e:
        raise KernelError(
            f"cannot allocate {size} bytes for {path}: {e.strerror}", errno=e.errno
        ) from e


class FileBackend(SwapBackend):
    """A swap file: ``path`` strictly inside a swap root, created 0600 root-owned and fully
    allocated. ``state`` stays empty: the path is all a later process needs."""

    name: ClassVar[str] = "file"
    label: ClassVar[str] = "Swap file"
    description: ClassVar[str] = (
        "A file under a swap root on ext4, xfs or btrfs, fully allocated and verified with "
        "FIEMAP (no holes, no shared extents; NOCOW on btrfs)."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            "path",
            "Path",
            required=True,
            max_length=4096,
            help="Absolute path of the swap file, inside one of the host's swap roots.",
        ),
    )
    resizable: ClassVar[bool] = True

    @classmethod
    def validate_params(cls, params: dict[str, Any], policy: Policy) -> dict[str, Any]:
        params = super().validate_params(params, policy)
        check_swap_path(params["path"], policy)
        return params

    @property
    def file_path(self) -> str:
        return str(self.params["path"])

    @property
    def swap_path(self) -> str:
        return self.file_path

    # ---- enable / disable ----

    def swapfile(self, enable: bool) -> None:
        """On True: afterwards the file exists, is a regular 0600 root-owned file of
        ``size_bytes`` with every block allocated, unshared, and NOCOW on btrfs; an existing
        file is verified, never rewritten. On False: nothing to release (see ``remove``)."""
        if enable:
            self.provision_file()

    def provision_file(self) -> None:
        path = self.file_path
        check_swap_path(path, self.policy)
        check_no_symlinks(path)
        fstype = check_swap_filesystem(path)
        if os.path.lexists(path):
            # Whose file it is comes first: a sysadmin's data file is refused as that, not
            # for a mode or size they should then "fix".
            self._check_regular(path)
            self._check_provenance(path)
            self._check_ownership(path)
            self._check_size(path)
            self.verify_extents()
            return
        assert self.size_bytes is not None
        check_free_space(os.path.dirname(path), self.size_bytes)
        self._ensure_parent(path)
        self._create(path, self.size_bytes, btrfs=fstype == "btrfs")

    def _ensure_parent(self, path: str) -> None:
        # The swap root may be missing on a fresh host; make it, and only within the root.
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent, mode=0o700, exist_ok=True)
            check_no_symlinks(path)

    def _create(self, path: str, size: int, *, btrfs: bool) -> None:
        with _opened(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL) as fd:
            try:
                # Marked first, so that a file left by a crash at any later step is still
                # known as ours when provisioning runs again.
                set_mark(fd, path)
                os.fchown(fd, 0, 0)
                os.fchmod(fd, 0o600)
                if btrfs:
                    set_nocow(fd, path)
                _allocate(fd, path, size)
                self._raise_on_extent_problems(fd, path, size)
            except BaseException:
                # We made it, so a refusal leaves nothing behind.
                os.unlink(path)
                raise

    @staticmethod
    def _check_regular(path: str) -> None:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise UnsafeError(f"{path} exists and is not a regular file; swapadmin leaves it be")

    def _check_ownership(self, path: str) -> None:
        self._check_regular(path)
        st = os.lstat(path)
        problems = []
        if st.st_uid != 0:
            problems.append(f"owned by uid {st.st_uid}, not root")
        if stat.S_IMODE(st.st_mode) != 0o600:
            problems.append(f"mode {stat.S_IMODE(st.st_mode):o}, not 600")
        if problems:
            raise UnsafeError(
                f"{path} exists but is {' and '.join(problems)}: anyone who can read swap "
                f"reads process memory. Fix with: chown root:root {path}; chmod 600 {path}"
            )

    def _check_provenance(self, path: str) -> None:
        """Refuse an existing file that may hold someone's data: accepted are a file swapadmin
        made (marked; a crash may have stopped it before mkswap) and one that already is a
        swap area (formatting it again loses nothing), or any file when forced."""
        if self.force:
            return
        with _opened(path, os.O_RDONLY) as fd:
            if has_mark(fd) or holds_swap_signature(fd):
                return
        raise UnsafeError(
            f"{path} exists and swapadmin did not make it: it may hold data. Choose another "
            "path, or remove it yourself."
        )

    def _check_size(self, path: str) -> None:
        actual = os.lstat(path).st_size
        if self.size_bytes is not None and actual != self.size_bytes:
            raise UnsafeError(
                f"{path} exists with {actual} bytes, not the {self.size_bytes} asked; resize "
                "it instead of enabling it again"
            )

    def verify_extents(self) -> None:
        """Raise UnsafeError naming every problem FIEMAP shows in the file; changes nothing."""
        path = self.file_path
        with _opened(path, os.O_RDONLY) as fd:
            self._raise_on_extent_problems(fd, path, os.fstat(fd).st_size)

    @staticmethod
    def _raise_on_extent_problems(fd: int, path: str, size: int) -> None:
        problems = extent_problems(fiemap(fd), size)
        if devices.fs_name(devices.fs_magic(path)) == "btrfs" and not is_nocow(fd):
            problems.append("is not NOCOW on btrfs (chattr +C must be set while it is empty)")
        if problems:
            raise UnsafeError(
                f"{path} cannot be swap: it {'; it '.join(problems)}. Remove it and let "
                "swapadmin create it again."
            )

    # ---- the file's life beyond enable ----

    def file_active(self) -> bool:
        """True when the file itself is active in /proc/swaps."""
        from .. import kernel

        return kernel.is_active(self.file_path)

    def _refuse_if_active(self, doing: str) -> None:
        if self.is_active() or self.file_active():
            raise ActiveAreaError(
                f"{self.swap_path} is active in /proc/swaps; deactivate it before you {doing}"
            )

    def remove(self) -> bool:
        """Delete the swap file if swapadmin made it (marked); returns whether the file is
        gone, a missing one included. Refuses while active.

        A file swapadmin did not make (one that already was swap when it was taken over, or
        one made before files were marked) is left on the host and False returned: it may
        belong to someone else, and refusing instead would leave a backend that can never
        be destroyed."""
        path = self.file_path
        check_swap_path(path, self.policy)
        check_no_symlinks(path)
        self._refuse_if_active("remove it")
        try:
            with _opened(path, os.O_RDONLY) as fd:
                ours = has_mark(fd)
        except KernelError as e:
            if e.errno == errno.ENOENT:
                return True
            raise
        if not ours:
            log.warning("left %s on the host: swapadmin did not make it (no %s)", path, MARK_NAME)
            return False
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return True

    def resize(self, new_size_bytes: int) -> None:
        """Grow (fallocate) or shrink (truncate) the inactive file to ``new_size_bytes`` and
        verify it again; the header is stale afterwards, so mkswap it before swapon."""
        new_size = self.clean_size(new_size_bytes)
        assert new_size is not None
        path = self.file_path
        check_no_symlinks(path)
        self._refuse_if_active("resize it")
        if not os.path.lexists(path):
            raise BackendError(f"{path} does not exist; enable it first")
        self._check_regular(path)
        self._check_provenance(path)
        self._check_ownership(path)
        old_size = os.lstat(path).st_size
        if new_size > old_size:
            check_free_space(os.path.dirname(path), new_size - old_size)
        with _opened(path, os.O_WRONLY) as fd:
            if new_size > old_size:
                _allocate(fd, path, new_size)
            else:
                os.ftruncate(fd, new_size)
                os.fsync(fd)
            self._raise_on_extent_problems(fd, path, new_size)
        self.size_bytes = new_size

    # ---- what the host shows ----

    def capacity_bytes(self) -> int:
        try:
            return os.lstat(self.file_path).st_size
        except FileNotFoundError:
            raise BackendError(f"{self.file_path} does not exist; enable it first") from None

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(self._describe_file())
        return out

    def _describe_file(self) -> dict[str, Any]:
        path = self.file_path
        info: dict[str, Any] = {"path": path, "exists": False, "filesystem": None}
        with contextlib.suppress(OSError, BackendError):
            info["filesystem"] = devices.fs_name(devices.fs_magic(Path(path).parent))
        if not os.path.isfile(path) or os.path.islink(path):
            return info
        with _opened(path, os.O_RDONLY) as fd:
            extents = fiemap(fd)
            info.update(
                exists=True,
                file_size_bytes=os.fstat(fd).st_size,
                size_pages=os.fstat(fd).st_size // PAGE_SIZE,
                extents=len(extents),
                problems=extent_problems(extents, os.fstat(fd).st_size),
            )
        return info
