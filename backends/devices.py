"""Read-only facts about block devices and filesystems on this host.

Nothing here writes: these helpers answer the questions the safety checks in
``backends.policy`` ask (how big is it, is it mounted, who holds it, what is on it, which
device holds ``/``) from the kernel's own sources: ioctls, ``/proc/self/mountinfo`` and
``/sys/dev/block``. ``open_block_node`` is the one door through which a plugin opens a
device node a row names, once the node has proved to be the kind it expects.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from . import kernel
from .errors import BackendError, KernelError, NotOursError, ValidationError

DevNum = tuple[int, int]

BLKGETSIZE64: Final = 0x80081272

#: statfs f_type magics (include/uapi/linux/magic.h) for the names in our messages.
FS_MAGIC: Final[dict[int, str]] = {
    0xEF53: "ext4",
    0x58465342: "xfs",
    0x9123683E: "btrfs",
    0xF2F52010: "f2fs",
    0x01021994: "tmpfs",
    0x858458F6: "ramfs",
    0x794C7630: "overlayfs",
    0x6969: "nfs",
    0xFF534D42: "cifs",
    0xFE534D42: "smb2",
    0x65735546: "fuse",
    0x73717368: "squashfs",
    0x2FC12FC1: "zfs",
    0x4D44: "vfat",
    0x5346544E: "ntfs",
    0x9FA0: "proc",
    0x62656572: "sysfs",
    0x1373: "devfs",
    0x01021997: "9p",
    0x00C36400: "ceph",
    0x47504653: "gpfs",
    0x0BD00BD0: "lustre",
    0x6E736673: "nsfs",
}


def device_size(path: str) -> int:
    """The size in bytes of the block device at ``path`` (BLKGETSIZE64)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise KernelError(f"cannot open {path}: {e.strerror}", errno=e.errno) from e
    try:
        return device_size_fd(fd, path)
    finally:
        os.close(fd)


def device_size_fd(fd: int, path: str) -> int:
    """The size in bytes of the block device open on ``fd`` (BLKGETSIZE64)."""
    try:
        buf = fcntl.ioctl(fd, BLKGETSIZE64, b"\0" * 8)
    except OSError as e:
        raise KernelError(f"cannot read the size of {path}: {e.strerror}", errno=e.errno) from e
    return int(struct.unpack("=Q", buf)[0])


def open_block_node(dev: str, flags: int, *, major: int | None, kind: str) -> int:
    """``dev`` opened with ``flags`` only once it proves to be a ``kind`` device (a block
    device of ``major``; None when the driver is not loaded, so nothing qualifies): looked
    at first through an O_PATH descriptor, which runs no driver, so a FIFO (which would
    block the worker for good) or a character device (a watchdog, armed by an open) that a
    row names is never opened for real. That very node is then opened for I/O, and must
    still be the same device once open (a node swapped in between is refused)."""
    try:
        pfd = os.open(dev, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        raise KernelError(f"cannot open {dev}: {e.strerror}", errno=e.errno) from e
    try:
        st = os.fstat(pfd)
        if not stat.S_ISBLK(st.st_mode):
            raise NotOursError(
                f"{dev} is not a block device, so not a {kind} device: it was not opened. "
                "Nothing was written."
            )
        if major is None or os.major(st.st_rdev) != major:
            expected = major if major is not None else f"unknown: {kind} is not loaded"
            raise NotOursError(
                f"{dev} is a block device of major {os.major(st.st_rdev)}, not a {kind} device "
                f"({kind}'s major is {expected}): it was not opened. Nothing was written."
            )
        try:
            fd = os.open(f"/proc/self/fd/{pfd}", flags | os.O_CLOEXEC)
        except OSError as e:
            raise KernelError(f"cannot open {dev}: {e.strerror}", errno=e.errno) from e
    finally:
        os.close(pfd)
    if os.fstat(fd).st_rdev != st.st_rdev:
        os.close(fd)
        raise NotOursError(f"{dev} changed while it was being opened; try again")
    return fd


def block_devnum(path: str) -> DevNum:
    """(major, minor) of the block device node at ``path``; ValidationError if it is not one."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ValidationError(f"{path}: {e.strerror}", field="device") from e
    if not stat.S_ISBLK(st.st_mode):
        raise ValidationError(f"{path} is not a block device", field="device")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def sysfs_dir(dev: DevNum) -> Path:
    """The device's directory in sysfs (resolved, so ``..`` reaches a partition's disk)."""
    return Path(f"/sys/dev/block/{dev[0]}:{dev[1]}").resolve()


def kernel_name(dev: DevNum) -> str:
    """The kernel's name for the device (``sda1``, ``loop3``, ``dm-0``)."""
    return sysfs_dir(dev).name


def _devnum_of_sysfs(d: Path) -> DevNum:
    major, minor = (d / "dev").read_text().strip().split(":")
    return int(major), int(minor)


def parent_disk(dev: DevNum) -> DevNum | None:
    """The whole disk a partition belongs to, or None when ``dev`` is a whole disk."""
    d = sysfs_dir(dev)
    if not (d / "partition").exists():
        return None
    return _devnum_of_sysfs(d.parent)


def partitions(dev: DevNum) -> list[DevNum]:
    """The partitions of a whole disk (empty for a partition or an unpartitioned disk)."""
    d = sysfs_dir(dev)
    return [_devnum_of_sysfs(p) for p in sorted(d.iterdir()) if (p / "partition").exists()]


def holders(dev: DevNum) -> list[str]:
    """Kernel names of the devices stacked on ``dev`` or on any of its partitions (dm, md)."""
    names: list[str] = []
    for d in [dev, *partitions(dev)]:
        hdir = sysfs_dir(d) / "holders"
        if hdir.is_dir():
            names += sorted(h.name for h in hdir.iterdir())
    return names


def slaves(dev: DevNum) -> list[DevNum]:
    """The devices ``dev`` is stacked on (a dm or md device's members); empty otherwise."""
    sdir = sysfs_dir(dev) / "slaves"
    if not sdir.is_dir():
        return []
    return [_devnum_of_sysfs(s.resolve()) for s in sorted(sdir.iterdir())]


@dataclass(frozen=True)
class Mount:
    devnum: DevNum
    mount_point: str
    fstype: str
    source: str


def mounts() -> list[Mount]:
    """Every mount this process can see, from /proc/self/mountinfo."""
    return [Mount(m.devnum, m.mount_point, m.fstype, m.source) for m in kernel.mountinfo()]


def mount_points(dev: DevNum) -> list[str]:
    """Where ``dev`` or any of its partitions is mounted (empty when it is not)."""
    ours = {dev, *partitions(dev)}
    return [m.mount_point for m in mounts() if m.devnum in ours]


def root_devices() -> set[DevNum]:
    """The block devices that hold ``/``: its device, that device's disk, and, for a dm or md
    root, every member below it and their disks. Empty when ``/`` is on no block device.

    Both this process's ``/`` and init's are asked: a worker in a container (its ``/`` an
    overlay, on no block device) that sees the host's processes (docker-compose gives it
    ``pid: host``) must still refuse the disk that holds the host's root."""
    start: set[DevNum] = set()
    for pid in ("self", "1"):
        try:
            seen = kernel.mountinfo(pid)
        except (OSError, BackendError):
            if pid == "self":
                raise
            continue  # init's mounts are not ours to read (another PID namespace's init)
        root = next((m for m in reversed(seen) if m.mount_point == "/"), None)
        if root is None:
            continue
        if root.source.startswith("/dev/"):
            # btrfs reports an anonymous device number in mountinfo; the source names the
            # node.
            with contextlib.suppress(BackendError):
                start.add(block_devnum(root.source))
        if Path(f"/sys/dev/block/{root.devnum[0]}:{root.devnum[1]}").exists():
            start.add(root.devnum)
    return _with_lower_devices(start)


def _with_lower_devices(start: set[DevNum]) -> set[DevNum]:
    seen: set[DevNum] = set()
    todo = list(start)
    while todo:
        dev = todo.pop()
        if dev in seen:
            continue
        seen.add(dev)
        parent = parent_disk(dev)
        if parent is not None:
            todo.append(parent)
        todo += slaves(dev)
    return seen


class _StatFs(ctypes.Structure):
    _fields_ = [
        ("f_type", ctypes.c_long),
        ("f_bsize", ctypes.c_long),
        ("f_blocks", ctypes.c_ulong),
        ("f_bfree", ctypes.c_ulong),
        ("f_bavail", ctypes.c_ulong),
        ("f_files", ctypes.c_ulong),
        ("f_ffree", ctypes.c_ulong),
        ("f_fsid", ctypes.c_int * 2),
        ("f_namelen", ctypes.c_long),
        ("f_frsize", ctypes.c_long),
        ("f_flags", ctypes.c_long),
        ("f_spare", ctypes.c_long * 4),
    ]


_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.statfs.argtypes = [ctypes.c_char_p, ctypes.POINTER(_StatFs)]
_libc.statfs.restype = ctypes.c_int
_libc.fstatfs.argtypes = [ctypes.c_int, ctypes.POINTER(_StatFs)]
_libc.fstatfs.restype = ctypes.c_int


def fs_magic(path: str | os.PathLike[str]) -> int:
    """The statfs f_type of the filesystem holding ``path``."""
    buf = _StatFs()
    if _libc.statfs(os.fsencode(path), ctypes.byref(buf)) != 0:
        err = ctypes.get_errno()
        raise KernelError(f"statfs {path}: {os.strerror(err)}", errno=err)
    return int(buf.f_type) & 0xFFFFFFFF


def fs_magic_fd(fd: int) -> int:
    """The statfs f_type of the filesystem holding the open ``fd`` (an O_PATH one too)."""
    buf = _StatFs()
    if _libc.fstatfs(fd, ctypes.byref(buf)) != 0:
        err = ctypes.get_errno()
        raise KernelError(f"fstatfs: {os.strerror(err)}", errno=err)
    return int(buf.f_type) & 0xFFFFFFFF


def fs_name(magic: int) -> str:
    """A readable name for a statfs magic (the hex value when we do not know it)."""
    return FS_MAGIC.get(magic, f"unknown filesystem (magic {magic:#x})")
