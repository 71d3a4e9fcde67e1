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
import functools
import logging
import os
import stat
import struct
import uuid as uuid_mod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final

from .. import adoption, devices, fstab, presence, safepath
from .. import store as store_mod
from ..base import PAGE_SIZE, Fact, Parameter, SwapBackend
from ..errors import (
    ActiveAreaError,
    BackendError,
    BusyError,
    KernelError,
    NoRoomError,
    NotMountedError,
    NotOursError,
    UnsafeDirectoryError,
    UnsafeError,
    ValidationError,
    before_any_change,
    printable,
)
from ..header import MAGIC
from ..policy import (
    Policy,
    check_free_space,
    check_swap_filesystem,
    check_swap_path,
    free_and_reserve,
)
from ..store import Store
from ..units import iec

#: The share of its filesystem, in percent, a new file must leave free unless ``keep_free``
#: says more; and the most that may be asked (as ``SWAPADMIN_DYNAMIC_KEEP_FREE_PERCENT``
#: allows), so that a file of some size can still fit.
KEEP_FREE_PERCENT: Final = 1.0
MOST_KEPT_FREE_PERCENT: Final = 90.0

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

#: Set on every file this module takes. The trusted namespace is root's alone (reading or
#: writing it needs CAP_SYS_ADMIN), so a user cannot forge the mark, and ext4, xfs and btrfs
#: all keep it. Its value says how the file became swapadmin's and which backend owns it:
#: ``swapadmin:made:<owner>`` for a file swapadmin created (destroy deletes it),
#: ``swapadmin:given:<owner>`` for an existing one it was explicitly given (destroy leaves
#: it, without the mark). A bare ``swapadmin`` is a mark from before marks named owners.
MARK_NAME: Final = "trusted.swapadmin"
MARK_PREFIX: Final = b"swapadmin"
MADE: Final = "made"
GIVEN: Final = "given"


@dataclass(frozen=True)
class Mark:
    how: str
    owner: str

    def describe(self) -> str:
        if not self.owner:
            return "the mark of a swapadmin from before marks named their backend"
        verb = "made by" if self.how == MADE else "given to"
        return f"the mark of a file {verb} another swapadmin backend ({self.owner})"


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


def set_mark(fd: int, path: str, how: str = MADE, owner: str = "") -> None:
    """Mark the open file as swapadmin's; refuse a filesystem that cannot keep marks."""
    value = MARK_PREFIX + (f":{how}:{owner}".encode() if owner else b"")
    try:
        os.setxattr(fd, MARK_NAME, value)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            raise UnsafeError(
                f"cannot mark {path} as swapadmin's: its filesystem does not support "
                f"extended attributes ({MARK_NAME}). Without the mark swapadmin could not tell "
                "its swap files from other files later; use a swap root on ext4, xfs or btrfs."
            ) from e
        raise KernelError(
            f"cannot mark {path} as swapadmin's ({MARK_NAME}): {e.strerror}", errno=e.errno
        ) from e


def read_mark(fd: int) -> Mark | None:
    """The swapadmin mark on the open file, or None when it has none."""
    try:
        value = os.getxattr(fd, MARK_NAME)
    except OSError as e:
        if e.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP):
            return None
        raise KernelError(f"cannot read {MARK_NAME}: {e.strerror}", errno=e.errno) from e
    if value == MARK_PREFIX:
        return Mark(MADE, "")
    parts = value.split(b":", 2)
    if (
        len(parts) != 3
        or parts[0] != MARK_PREFIX
        or parts[1].decode(errors="replace")
        not in (
            MADE,
            GIVEN,
        )
    ):
        return None
    return Mark(parts[1].decode(), parts[2].decode(errors="replace"))


def remove_mark(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.removexattr(fd, MARK_NAME)


def has_mark(fd: int) -> bool:
    return read_mark(fd) is not None


def holds_swap_signature(fd: int) -> bool:
    """True when page 0 ends with the SWAPSPACE2 magic: the file already is a swap area."""
    page = store_mod.read_page0(fd, PAGE_SIZE)
    return page[PAGE_SIZE - len(MAGIC) : PAGE_SIZE] == MAGIC


def _allocate(fd: int, path: str, size: int) -> None:
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as e:
        raise KernelError(
            f"cannot allocate {size} bytes for {path}: {e.strerror}", errno=e.errno
        ) from e


def _flush(fd: int, path: str) -> None:
    try:
        os.fsync(fd)
    except OSError as e:
        raise KernelError(
            f"cannot write {path}'s allocation to disk: {e.strerror}", errno=e.errno
        ) from e


#: What a fallocate that ran out says: the filesystem's room, or the owner's quota.
_NO_ROOM = {errno.ENOSPC: "something else wrote there meanwhile (another swap file made at "
            "the same time?)", errno.EDQUOT: "a disk quota is reached"}  # fmt: skip


def _cut(fd: int, size: int) -> None:
    os.ftruncate(fd, size)
    os.fsync(fd)


def _truncate(fd: int, path: str, size: int) -> None:
    try:
        _cut(fd, size)
    except OSError as e:
        raise KernelError(f"cannot cut {path} to {size} bytes: {e.strerror}", errno=e.errno) from e


def _empty(fd: int, size: int) -> None:
    """Give back every block of a file never formatted (it holds nothing), the holes below
    ``size`` that fallocate filled too, and leave it ``size`` long, as unfinished as before."""
    os.ftruncate(fd, 0)
    _cut(fd, size)


def _give_back(give_back: Callable[[], None], short: str, fd: int, path: str) -> None:
    """Call ``give_back`` after an allocation refused for ``short``; if that fails too, the
    error says both: why it was refused, and that the file holds what it took."""
    try:
        give_back()
    except OSError as e:
        left = "an unknown size"
        with contextlib.suppress(OSError):  # never hiding both errors (review 217/5)
            left = f"{os.fstat(fd).st_size} bytes"
        raise KernelError(
            f"{short}; giving the bytes back failed too ({e.strerror}): {path} is left at {left}",
            errno=e.errno,
        ) from e


def _lock(fd: int, path: str) -> None:
    """Hold the file's own lock while it is written: keyed on the inode, so no other
    spelling (a hard link, a bind mount) of the same file gets it too."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise BusyError(f"{path} is being written by another swapadmin job right now") from None


class FileBackend(SwapBackend):
    """A swap file: ``path`` strictly inside a swap root, created 0600 root-owned and fully
    allocated. The store record holds the owner written into its mark and its inode."""

    name: ClassVar[str] = "file"
    label: ClassVar[str] = "Swap file"
    beneath_mounts: ClassVar[bool] = True
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
    persistable: ClassVar[bool] = True

    #: What ``keep_free`` set: the room every allocation of this instance leaves free.
    _kept_free_percent: float = KEEP_FREE_PERCENT
    _kept_free_why: str = ""

    @classmethod
    def validate_params(cls, params: dict[str, Any], policy: Policy) -> dict[str, Any]:
        params = super().validate_params(params, policy)
        check_swap_path(params["path"], policy)
        return params

    def keep_free(self, percent: float, why: str) -> None:
        """Leave ``percent`` of the filesystem free wherever this instance allocates (a new
        file, the rest of an unfinished one, a file grown), rather than the 1% a person's
        provision keeps; ``why`` is said beside the figure when the room is short (", kept
        free beside ..."). Measured where the bytes go, on the directory the walk from the
        swap root opened or on the file's own descriptor, never by path: a name may lead
        elsewhere before the walk or after it (review 178/9). ValidationError for anything
        but a number from 1 to 90: less than a person's provision keeps, or NaN, would let
        the room go."""
        if (
            isinstance(percent, bool)
            or not isinstance(percent, (int, float))
            or not KEEP_FREE_PERCENT <= percent <= MOST_KEPT_FREE_PERCENT
        ):
            raise ValidationError(
                f"the room a swap file leaves free must be from {KEEP_FREE_PERCENT:g} to "
                f"{MOST_KEPT_FREE_PERCENT:g} percent of the filesystem, not "
                f"{printable(repr(percent))[:40]}"
            )
        if not isinstance(why, str):
            raise ValidationError(
                f"what the room is kept for must be words, not {type(why).__name__}"
            )
        self._kept_free_percent = float(percent)
        self._kept_free_why = printable(why)

    def _check_room(self, fd: int, needed_bytes: int, path: str) -> None:
        """Refuse unless ``needed_bytes`` fit on the filesystem of the open ``fd`` with the
        room ``keep_free`` said (1% unless it said more) left free."""
        check_free_space(
            fd, needed_bytes, path,
            reserve_percent=self._kept_free_percent, why=self._kept_free_why,
        )  # fmt: skip

    def _allocate_keeping_room(
        self, fd: int, path: str, size: int, needed: int, give_back: Callable[[], None]
    ) -> None:
        """Allocate the file of ``fd`` to ``size`` bytes (``needed`` of them not yet taken)
        with the room ``keep_free`` said left free, measured before and again after: two
        allocations on one filesystem that each found room before either took it can
        together leave less than the reserve (review 199/3). The one that finds the reserve
        gone afterwards, or whose fallocate fails partway, calls ``give_back`` to return
        what it took, and refuses."""
        with before_any_change():  # a room that cannot be read yet changed nothing (221/5)
            self._check_room(fd, needed, path)
        step = "allocate"
        try:
            _allocate(fd, path, size)
            step = "flush"
            _flush(fd, path)
            step = "measure"
            free, reserve = free_and_reserve(fd, self._kept_free_percent)
        except KernelError as e:
            _give_back(give_back, e.message, fd, path)
            # A fallocate that fails partway keeps the blocks it got, and ENOSPC is what the
            # race above makes of it when the other allocation came first (review 214/1).
            if step == "allocate" and e.errno in _NO_ROOM:
                raise NoRoomError(
                    f"{e.message}, though the room was there a moment before: "
                    f"{_NO_ROOM[e.errno]}. The bytes it took were given back; try again."
                ) from e
            # After a failed flush what reached the disk is not known: never said as "no
            # room", which would have a resize swap the area on again (review 217/1).
            undone = (
                "The allocation was undone, but what reached the disk is not known."
                if step == "flush"
                else "The bytes it took were given back."
            )
            raise KernelError(f"{e.message}. {undone}", errno=e.errno) from e
        except BaseException:
            # Interrupted (a signal's exception, a time limit): what it took goes back all
            # the same, and the interruption goes on up (217/4).
            with contextlib.suppress(OSError):
                give_back()
            raise
        if free >= reserve:
            return
        short = (
            f"not enough free space in {os.path.dirname(path)} once {path} was allocated: "
            f"{free} bytes are left and swapadmin keeps {reserve} "
            f"({self._kept_free_percent:g}% of the filesystem{self._kept_free_why}) in "
            "reserve. Something else wrote there meanwhile (another swap file made at the "
            "same time?), or the allocation's own metadata took the last of it"
        )
        _give_back(give_back, short, fd, path)
        raise NoRoomError(f"{short}. The bytes it took were given back; try again.")

    @classmethod
    def fstab_spec(cls, params: Mapping[str, Any], swap_uuid: str | None) -> str | None:
        return str(params["path"])

    @classmethod
    def existing_size(cls, path: str, params: Mapping[str, Any]) -> int | None:
        return os.path.getsize(path)

    @classmethod
    def adoption_claim(cls, path: str) -> int:
        return 0 if path.startswith("/dev/") else 1

    @classmethod
    def adopt(
        cls, path: str, policy: Policy, *, active: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        adoption.check_one_name(path)
        state = adoption.root_state(path, policy, active=active)  # outside the roots: says so
        adoption.check_is_swap(path, active=active)
        return {"path": path}, state

    @classmethod
    def facts(
        cls,
        info: Mapping[str, Any],
        params: Mapping[str, Any],
        state: Mapping[str, Any],
        swap_path: str | None,
    ) -> list[Fact]:
        problems = info.get("problems") or []
        extents = str(info.get("extents") or "?")
        if not problems and info.get("exists"):
            extents += " — no holes, nothing shared"
        return [
            Fact("File", str(info.get("path") or swap_path or ""), mono=True),
            Fact("Filesystem", str(info.get("filesystem") or "unknown")),
            Fact("Extents", extents, problem="; ".join(map(str, problems))),
            Fact("Size on disk", iec(info.get("file_size_bytes"))),
        ]

    @classmethod
    def creation_prepares(cls, where: str, size: str) -> str:
        return (
            f"Create {where} ({size}), allocate every block (no holes, checked with FIEMAP), "
            "owned by root with mode 0600, marked as made by swapadmin. A file already there is "
            "used only if swapadmin made it or it already is swap; any other file is refused "
            "and left as it is. Refused too outside the host's swap roots, or without the space."
        )

    @classmethod
    def form_initial(cls, swap_roots: Sequence[str]) -> dict[str, str]:
        # A path inside the first root, for the user to finish: anywhere else is refused.
        return {"path": swap_roots[0].rstrip("/") + "/"} if swap_roots else {}

    @classmethod
    def destroy_removes(cls, path: str, size: str) -> str:
        return (
            f"The swap file {path} ({size}) is deleted. "
            "A file that was already swap before swapadmin used it is left on the host."
        )

    @property
    def file_path(self) -> str:
        return str(self.params["path"])

    @property
    def swap_path(self) -> str:
        return self.file_path

    # ---- the open file: reached by a walk from the swap root, proven on its descriptor ----

    def hidden(self) -> BackendError | None:
        """Why a file not found at the path may be hidden rather than gone: a directory on
        the way where the table mounts a filesystem and nothing is mounted (review 168/8),
        or a table or mount that cannot be read, so that it cannot be told (said as a
        NotMountedError too, so every reader takes "cannot tell" as "may be hidden":
        review 183/2); a walk that failed otherwise (EIO) is said as itself (184/2), and
        anything else on the way (a directory missing) by the caller's own look. Returned
        without the context it was raised in: the FileNotFoundError the caller handles
        would read as "no such file", so as gone (review 178/2)."""
        try:
            mounts = self._mounts()
        except KernelError as e:
            hidden: BackendError = NotMountedError(
                f"cannot tell whether a filesystem on the way to {self.file_path} is "
                f"mounted: {e.message}. Nothing beneath it is made, or taken for gone, until "
                "it can"
            )
        else:
            try:
                safepath.open_parent(self.file_path, self.policy.swap_roots, mounts=mounts).close()
            except (NotMountedError, KernelError) as e:
                # A KernelError on the way (EIO, too many files open) is said as itself: it
                # is no mount's doing, but it is no "not found" either.
                hidden = e
            except (OSError, BackendError):
                return None
            else:
                return None
        hidden.__context__ = None
        hidden.__cause__ = None
        return hidden

    def _mounts(self) -> safepath.Mounts:
        """Where this machine mounts filesystems, read each walk: a file is neither made nor
        looked for beneath one that is not mounted (review 168/8)."""
        return fstab.mounts(self.policy.mount_table)

    def _open_file(self, flags: int) -> Store:
        path = self.file_path
        check_swap_path(path, self.policy)
        try:
            fd = self._open_named(path, flags)
            st = os.fstat(fd)
        except UnsafeDirectoryError:
            # A directory's rights, not where the name leads: the store may well be this
            # backend's, behind a directory to mend ("not its store" would be a verdict
            # only a thorough look clears, and a wrong one).
            raise
        except UnsafeError as e:
            refused = e
        else:
            return Store(fd, bool(flags & os.O_RDWR), path, store_mod.file_identity(st))
        # A link or a device where the file was, beneath a mount missing on the way: the
        # store may be on the filesystem meant to be mounted (review 181/1). Asked here,
        # not while the refusal is handled.
        hidden = self.hidden()
        if hidden is not None:
            raise hidden
        if self.record.get("owner") or self.record.get("key"):
            # It had a store: the name now leads somewhere else.
            raise NotOursError(
                f"{path} no longer names this backend's file: {refused.message}"
            ) from refused
        raise refused

    def _open_named(self, path: str, flags: int) -> int:
        """The file's descriptor, by the walk. A file found is judged by its proof, wherever
        it is (a check of the mounts here would refuse the swapoff of an active area for an
        fstab line added since); one not found "does not exist", unless a mount on the way
        is missing: then it is hidden, not gone (NotMountedError)."""
        try:
            parent, fd = safepath.open_beneath(path, self.policy.swap_roots, flags)
        except FileNotFoundError:
            hidden = self.hidden()
            if hidden is None:
                # Raised here: the FileNotFoundError is its context, which the loop kind's
                # ``_file_gone`` reads as the file gone.
                raise BackendError(f"{path} does not exist; {self.way_out(gone=True)}") from None
        else:
            parent.close()
            return fd
        raise hidden

    def open_store(self, writable: bool) -> Store:
        store = self._open_file(self.open_flags(writable))
        if writable:
            try:
                _lock(store.fd, store.path)
            except BaseException:
                store.close()
                raise
        return store

    def check_identity(self, store: Store) -> None:
        self._check_file(store.fd, store.path)

    def _check_file(self, fd: int, path: str) -> None:
        """``_check_found``; and a file found that is not this backend's may be a stray file
        on the filesystem beneath a mount missing on the way, over the backend's own store:
        then that is said (NotMountedError), not "not ours", which a destroy takes for
        leave-it-and-forget and the loop kind's release for a device to forget (180/2)."""
        try:
            self._check_found(fd, path)
            return
        except NotOursError as e:
            refused = e
        hidden = self.hidden()
        if hidden is not None:
            raise hidden
        raise refused

    def _check_found(self, fd: int, path: str) -> None:
        """The file is this backend's: its mark names this backend as owner (an adopted
        file, never written, is known by its inode instead), and it has one name only, so
        no other spelling can be another backend's store."""
        rec = self.record
        st = os.fstat(fd)
        if st.st_nlink != 1:
            # Not NotOursError: the mark may well prove the file this backend's, and "not
            # ours" has a destroy forget the row with the area left on (244/1). Refused as
            # what it is, whatever reads it: another name, which says nothing of whose.
            raise UnsafeError(
                f"{path} has {st.st_nlink} names (hard links): another name may be another "
                "backend's or a user's, so swapadmin will not write to it. Remove the other "
                "links."
            )
        owner = rec.get("owner")
        if owner and self.owner and owner != self.owner:
            # The record was copied from another backend's row: it proves nothing here.
            raise NotOursError(
                f"{path}: the record of this backend's store names another backend "
                f"({owner}) as its owner. Nothing was written."
            )
        if owner:
            mark = read_mark(fd)
            if mark is None or mark.owner != owner:
                found = "no swapadmin mark" if mark is None else mark.describe()
                raise NotOursError(
                    f"the file now at {path} is not this backend's: it carries {found}, not "
                    "this backend's mark (it was replaced, or belongs to someone else). "
                    "Nothing was written."
                )
        elif rec.get("key") and rec["key"] != store_mod.file_identity(st):
            raise NotOursError(
                f"the file now at {path} is not this backend's: it is another file (inode "
                f"{st.st_ino}) than the one recorded. Nothing was written."
            )

    def check_exclusive(self, store: Store) -> None:
        self._check_no_loop(store.fd, store.path, mine=self._own_loop_device())

    def _own_loop_device(self) -> str | None:
        """The loop device this backend itself serves its file through (the loop kind)."""
        return None

    @staticmethod
    def _check_no_loop(fd: int, path: str, mine: str | None) -> None:
        """No loop device but ``mine`` serves the file: through one, anyone may swap on it
        or mount it at any moment, whatever is checked here."""
        others = [d for d in store_mod.loops_serving(os.fstat(fd)) if d != mine]
        if others:
            raise NotOursError(
                f"{path} is attached to {', '.join(others)}: its bytes are reachable through "
                f"that loop device too, so swapadmin will not write to it. Detach it first "
                f"(losetup -d {others[0]})."
            )

    def has_identity(self) -> bool:
        rec = self.record
        # An inode alone identifies only an adopted file (never written): a written one is
        # proven by its mark naming this backend.
        return bool(rec.get("owner") or (rec.get("adopted") and rec.get("key")))

    def identity(self, store: Store) -> dict[str, Any]:
        mark = read_mark(store.fd)
        return {"key": store.key, "owner": mark.owner if mark else None}

    # ---- enable / disable ----

    def swapfile(self, enable: bool) -> None:
        """On True: afterwards the file exists, is a regular 0600 root-owned file of
        ``size_bytes`` with every block allocated, unshared, and NOCOW on btrfs, and it is
        this backend's. A provision creates it, or takes an existing file it may take; any
        other caller only verifies it (ours, formatted by us). On False: nothing to release
        (see ``remove``)."""
        if enable:
            self.provision_file()

    def provision_file(self) -> None:
        if not self.provisioning:
            self._verify_file()
            return
        path = self.file_path
        check_swap_path(path, self.policy)
        with safepath.open_parent(
            path, self.policy.swap_roots, create=True, mounts=self._mounts()
        ) as parent:
            fstype = check_swap_filesystem(path, parent.dirfd)
            try:
                fd = safepath.open_regular(parent, self.open_flags(True))
            except FileNotFoundError:
                self._create(parent, path, btrfs=fstype == "btrfs")
                return
            store = Store(fd, True, path, store_mod.file_identity(os.fstat(fd)))
            try:
                self._take_existing(store)
            except BaseException:
                store.close()
                raise

    def _verify_file(self) -> None:
        """Activate's check: the file proves to be this backend's formatted area (through
        the file itself, which a loop device may not serve yet), and is still fit to be
        swap (owner, mode, size, extents)."""
        store = self._open_file(os.O_RDONLY)
        try:
            self._check_file(store.fd, store.path)
            if not self.record.get("uuid"):
                raise self.unformatted_refusal(store)
            self._require_identity(store)
            self.check_swap_uuid(store)
            self._check_no_loop(store.fd, store.path, mine=self._own_loop_device())
            self._check_fit(store)
        finally:
            store.close()

    def _check_fit(self, store: Store) -> None:
        self._check_ownership(store.fd, store.path)
        self._check_size(store.fd, store.path)
        self._raise_on_extent_problems(store.fd, store.path, os.fstat(store.fd).st_size)

    def _create(self, parent: safepath.Beneath, path: str, *, btrfs: bool) -> None:
        """Make the file unnamed (O_TMPFILE), mark, own, allocate and check it, and only then
        give it its name: a crash at any step leaves nothing behind, and a name someone
        took meanwhile is never replaced."""
        assert self.size_bytes is not None
        self._check_room(parent.dirfd, self.size_bytes, path)
        try:
            fd = os.open(
                # Not O_EXCL: with O_TMPFILE it would forbid giving the file its name.
                ".", os.O_TMPFILE | os.O_RDWR | os.O_DIRECT | os.O_CLOEXEC, 0o600,
                dir_fd=parent.dirfd,
            )  # fmt: skip
        except OSError as e:
            raise KernelError(
                f"cannot create a file in {os.path.dirname(path)}: {e.strerror}", errno=e.errno
            ) from e
        store = Store(fd, True, path, store_mod.file_identity(os.fstat(fd)))
        try:
            set_mark(fd, path, MADE, self.owner or "")
            os.fchown(fd, 0, 0)
            os.fchmod(fd, 0o600)
            if btrfs:
                set_nocow(fd, path)
            # Unnamed: closing it (below, as the error goes up) gives its bytes back.
            self._allocate_keeping_room(fd, path, self.size_bytes, 0, lambda: None)
            self._raise_on_extent_problems(fd, path, self.size_bytes)
            # Unnamed until the link below, and fallocated: zeros, which nothing else wrote.
            store.blank = True
            self.claim(store)
            try:
                os.link(f"/proc/self/fd/{fd}", parent.name, dst_dir_fd=parent.dirfd)
            except FileExistsError:
                raise BusyError(f"{path} was created by someone else just now; try again") from None
            # The unnamed file's descriptor keeps its anonymous name ("#inode (deleted)" in
            # /proc/swaps and a loop device's backing_file): go on with one by the new name.
            named = safepath.open_regular(parent, self.open_flags(True))
            if store_mod.file_identity(os.fstat(named)) != store.key:
                os.close(named)
                raise NotOursError(f"{path} was replaced just after it was created")
            os.close(fd)
            store.fd = named
            _lock(named, path)
            self.take_store(store)
        except BaseException:
            store.close()
            raise

    def _take_existing(self, store: Store) -> None:
        """An existing file under the root becomes this backend's store only when it is
        already this backend's (a crash before mkswap, a provision run again), or it is a
        swap area (formatting it again loses nothing), or with ``force``. Whose file it is
        comes first: a sysadmin's data file is refused as that, not for a mode or size they
        should then "fix". Nothing is changed before every check has passed."""
        fd, path = store.fd, store.path
        _lock(fd, path)
        mark = read_mark(fd)
        ours = mark is not None and bool(self.owner) and mark.owner == self.owner
        # A file a swapadmin made before marks named their backend is made, not given.
        made_before_owners = mark is not None and not mark.owner and mark.how == MADE
        if ours:
            self._check_not_reused(store)
        elif mark is not None and mark.owner and not self.force:
            raise NotOursError(
                f"{path} exists and carries {mark.describe()}: one file serves one backend. "
                "Destroy that backend, or choose another path."
            )
        elif not self.force and mark is None and not holds_swap_signature(fd):
            raise UnsafeError(
                f"{path} exists and swapadmin did not make it: it may hold data. Choose "
                "another path, or remove it yourself."
            )
        elif not self.force and mark is None and self.owner:
            # Someone's swap file: formatting it again changes its UUID, which whatever uses
            # it may name. Manage it as it is (discover, adopt) or confirm with force.
            raise UnsafeError(
                f"{path} is an existing swap area that swapadmin did not make: provisioning "
                "formats it again (a new UUID). Adopt it to manage it as it is, or confirm "
                "with force."
            )
        if os.fstat(fd).st_nlink != 1:
            self._check_file(fd, path)  # raises, naming the links
        self._check_no_loop(fd, path, mine=self._own_loop_device())
        if ours and not self.record.get("uuid"):
            self._finish_allocation(store)
        self._check_fit(store)
        if not ours and self.owner:
            self.claim(store)  # before the mark changes: it may be another backend's file
            set_mark(fd, path, MADE if made_before_owners else GIVEN, self.owner)
        self.take_store(store)

    def _finish_allocation(self, store: Store) -> None:
        """A file of this backend that was never formatted (made before files were made
        unnamed first): bring it to the size asked, so provisioning again completes it. The
        checks a file must pass are made before it is changed, and a growth that then fails
        them is given back: a refusal changes nothing (review 217/2)."""
        assert self.size_bytes is not None
        fd, path = store.fd, store.path
        self._check_ownership(fd, path)
        st = os.fstat(fd)
        size = st.st_size
        mark = read_mark(fd)
        made = mark is not None and mark.how == MADE
        if not made:
            # A file given under force still holds what its owner wrote: a hole in it is
            # refused before the growth would fill it, so that a refusal's give-back (its
            # length) gives back all it took (review 217/3).
            self._raise_on_extent_problems(fd, path, min(size, self.size_bytes))
        if size < self.size_bytes:
            # fallocate fills every hole below the size too: what is not yet allocated is
            # what it takes, not only what lies past the end (review 199/2). A file made by
            # swapadmin holds nothing, so all of it goes back; a given one only its length,
            # its data kept (review 214/9).
            allocated = min(st.st_blocks * 512, self.size_bytes)
            give_back = functools.partial(_empty if made else _cut, fd, size)
            self._allocate_keeping_room(
                fd, path, self.size_bytes, self.size_bytes - allocated, give_back
            )
            try:
                self._check_fit(store)
            except BaseException:
                with contextlib.suppress(OSError):
                    give_back()
                raise
        elif size > self.size_bytes:
            self._raise_on_extent_problems(fd, path, self.size_bytes)
            _truncate(fd, path, self.size_bytes)

    def _check_not_reused(self, store: Store) -> None:
        """A file this backend formatted once and that no longer holds its swap header was
        written by someone since (a filesystem image, a database): it is formatted again
        only when forced."""
        want = self.record.get("uuid")
        if not want or self.force:
            return
        found = store_mod.header_uuid(store.fd, PAGE_SIZE)
        if found is not None and str(found) == want:
            return
        held = store_mod.describe_contents(store.fd, PAGE_SIZE, store.path)
        raise NotOursError(
            f"{store.path} carries this backend's mark but no longer holds the swap area it "
            f"wrote (UUID {want}): it holds {held}. Someone may have reused it; provision "
            "again with force to format it anyway."
        )

    @staticmethod
    def _check_ownership(fd: int, path: str) -> None:
        st = os.fstat(fd)
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

    def _check_size(self, fd: int, path: str) -> None:
        actual = os.fstat(fd).st_size
        if self.size_bytes is not None and actual != self.size_bytes:
            raise UnsafeError(
                f"{path} exists with {actual} bytes, not the {self.size_bytes} asked; resize "
                "it instead of enabling it again"
            )

    def verify_extents(self) -> None:
        """Raise UnsafeError naming every problem FIEMAP shows in the file; changes nothing."""
        store = self._open_file(os.O_RDONLY)
        try:
            self._raise_on_extent_problems(store.fd, store.path, os.fstat(store.fd).st_size)
        finally:
            store.close()

    @staticmethod
    def _raise_on_extent_problems(fd: int, path: str, size: int) -> None:
        problems = extent_problems(fiemap(fd), size)
        if devices.fs_name(devices.fs_magic_fd(fd)) == "btrfs" and not is_nocow(fd):
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
        """Delete the swap file if this backend made it (its mark says made, by this
        backend); returns whether the file is gone, a missing one included. Refuses while
        active.

        Any other file is left on the host and False returned: one this backend was given
        loses the mark (it is a plain file again), anything else is not touched at all. It
        may belong to someone else, and refusing instead would leave a backend that can
        never be destroyed."""
        path = self.file_path
        check_swap_path(path, self.policy)
        # The mounts first, whatever is found at the path: beneath a mount missing on the
        # way, what is there (nothing, a stray file or directory, even an old copy of this
        # backend's own file made there before this check) is not the store, which may be
        # on the filesystem meant to be mounted; judged gone or not ours, the backend would
        # be forgotten and its store left behind (reviews 168/8, 180/2, 181/1, 181/2).
        hidden = self.hidden()
        if hidden is not None:
            raise hidden
        # Whose file it is comes next: an active area at the path that is not this
        # backend's is not a reason to refuse; this backend's own active file is refused on
        # its descriptor (``_remove_open``).
        try:
            parent = safepath.open_parent(path, self.policy.swap_roots)
        except FileNotFoundError:
            parent = None
        with parent or contextlib.nullcontext():
            fd = -1
            try:
                if parent is not None:
                    fd = safepath.open_regular(parent, os.O_RDONLY)
            except FileNotFoundError:
                pass
            except UnsafeError as e:
                # A link or a device where the file was: not this backend's to remove.
                log.warning("left %s on the host: %s", path, e.message)
                return False
            if fd < 0 or parent is None:
                return True  # not found, and no mount on the way missing: gone
            try:
                removed = self._remove_open(parent, fd, path)
            finally:
                os.close(fd)
            return removed

    def _remove_open(self, parent: safepath.Beneath, fd: int, path: str) -> bool:
        mark = read_mark(fd)
        if mark is None or not self.owner or mark.owner != self.owner:
            log.warning("left %s on the host: it is not this backend's (%s)", path, mark)
            return False
        if store_mod.active_path(fd) is not None:
            raise ActiveAreaError(
                f"{path} is active in /proc/swaps; deactivate it before you remove it"
            )
        _lock(fd, path)
        self._check_no_loop(fd, path, mine=None)
        if mark.how != MADE:
            remove_mark(fd)
            log.warning("left %s on the host: it was given to swapadmin, not made by it", path)
            return False
        _unlink_if_same(parent, fd, path)
        return True

    def resize(self, new_size_bytes: int) -> None:
        """Grow (fallocate) or shrink (truncate) the inactive file to ``new_size_bytes`` and
        verify it again, all through the proven descriptor; the header is stale afterwards,
        so mkswap it before swapon."""
        with before_any_change():
            new_size = self.clean_size(new_size_bytes)
            assert new_size is not None
            if self.record.get("adopted"):
                raise NotOursError(
                    f"{self.file_path} was adopted: it is left as it is, never resized"
                )
            self._refuse_if_active("resize it")
            fd = self.descriptor(True)
            path = self.file_path
            self._check_ownership(fd, path)
            old_size = os.fstat(fd).st_size
        if new_size > old_size:
            self._allocate_keeping_room(
                fd, path, new_size, new_size - old_size, lambda: _cut(fd, old_size)
            )
        else:
            _truncate(fd, path, new_size)
        self._raise_on_extent_problems(fd, path, new_size)
        self.size_bytes = new_size

    def check_room_for(self, new_size_bytes: int) -> None:
        """The growth's room, measured on the file's own descriptor (the walk's, read only)
        as ``resize`` measures it; nothing for a shrink. A loop kind's file is measured the
        same way, by its backing file."""
        new_size = self.clean_size(new_size_bytes)
        assert new_size is not None
        store = self._open_file(os.O_RDONLY)
        try:
            old_size = os.fstat(store.fd).st_size
            if new_size > old_size:
                self._check_room(store.fd, new_size - old_size, store.path)
        finally:
            store.close()

    # ---- what the host shows ----

    def capacity_bytes(self) -> int:
        store = self._store  # once: another thread may replace it meanwhile
        if store is not None:
            return os.fstat(store.fd).st_size
        try:
            return os.lstat(self.file_path).st_size
        except FileNotFoundError:
            hidden = self.hidden()
            if hidden is None:
                raise BackendError(f"{self.file_path} does not exist; enable it first") from None
        # Not while the FileNotFoundError is handled: its ENOENT would say "gone".
        raise hidden

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(self._describe_file())
        return out

    def _describe_file(self) -> dict[str, Any]:
        path = self.file_path
        info: dict[str, Any] = {"path": path, "exists": False, "filesystem": None}
        with contextlib.suppress(OSError, BackendError):
            info["filesystem"] = devices.fs_name(devices.fs_magic(Path(path).parent))
        try:
            st = os.lstat(path)
        except OSError as e:
            # Only "no such file" is a file that does not exist; a stat that failed
            # otherwise (EIO, EACCES, a link loop on the way) is said, not described as
            # no file, which ``os.path.isfile`` did (review 164/11).
            if not presence.says_absent(e.errno):
                raise KernelError(f"cannot look at {path}: {e.strerror}", errno=e.errno) from e
            hidden = self.hidden()
            if hidden is None:
                return info
        else:
            hidden = None
        if hidden is not None:
            raise hidden  # a file hidden, not none: said as the description's error
        if not stat.S_ISREG(st.st_mode):
            return info  # a link or a device where the file should be: not a file it made
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


def _unlink_if_same(parent: safepath.Beneath, fd: int, path: str) -> None:
    """Remove the name only if it still is the file checked on ``fd``: the name is first
    moved aside (atomically), the file under it compared, then unlinked, or put back."""
    aside = f".{parent.name}.swapadmin-removing-{uuid_mod.uuid4().hex}"
    os.rename(parent.name, aside, src_dir_fd=parent.dirfd, dst_dir_fd=parent.dirfd)
    st = os.stat(aside, dir_fd=parent.dirfd, follow_symlinks=False)
    if store_mod.file_identity(st) != store_mod.file_identity(os.fstat(fd)):
        os.rename(aside, parent.name, src_dir_fd=parent.dirfd, dst_dir_fd=parent.dirfd)
        raise NotOursError(f"{path} was replaced while it was being removed; it was left")
    os.unlink(aside, dir_fd=parent.dirfd)


def _open_error(path: str, e: OSError) -> BackendError:
    if e.errno == errno.ELOOP:
        return UnsafeError(
            f"{path} is a symbolic link; swapadmin refuses symlinks anywhere in a swap "
            "file's path. Use the real path instead."
        )
    if e.errno == errno.EEXIST:
        return BusyError(f"{path} was created by someone else just now; try again")
    return KernelError(f"cannot open {path}: {e.strerror}", errno=e.errno)
