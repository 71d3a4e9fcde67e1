"""What swapadmin may touch on a host, and why not.

The policy is read from the worker's own environment: a message from the control plane
can ask, but only the host decides. Checks that need the host (does the path exist, is the
device mounted) run on the worker; lexical checks also run in the web process so that bad
input is refused before a job is queued.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import KernelError, NoRoomError, UnsafeError, ValidationError

DEFAULT_SWAP_ROOTS = "/var/lib/swapadmin/swap"


@dataclass(frozen=True)
class Policy:
    #: Directories under which file and loop backends may create swap files.
    swap_roots: tuple[Path, ...] = (Path(DEFAULT_SWAP_ROOTS),)
    #: RAM that must stay available after a swapoff moves an area's pages back in.
    swapoff_margin_bytes: int = 256 * 1024 * 1024
    #: The table of the filesystems this machine mounts, as the worker sees them (its own
    #: /etc/fstab, not SWAPADMIN_FSTAB, which in a container is the host's): no file is
    #: made, or looked for, beneath a mount point it names while nothing is mounted there.
    mount_table: Path = Path("/etc/fstab")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Policy:
        env = os.environ if environ is None else environ
        roots = tuple(
            Path(r) for r in env.get("SWAPADMIN_SWAP_ROOTS", DEFAULT_SWAP_ROOTS).split(":") if r
        )
        for r in roots:
            if not r.is_absolute():
                raise ValueError(f"SWAPADMIN_SWAP_ROOTS: {str(r)!r} is not an absolute path")
        margin = int(env.get("SWAPADMIN_SWAPOFF_MARGIN_BYTES", str(cls.swapoff_margin_bytes)))
        table = Path(env.get("SWAPADMIN_MOUNT_TABLE") or cls.mount_table)
        if not table.is_absolute():
            raise ValueError(f"SWAPADMIN_MOUNT_TABLE: {str(table)!r} is not an absolute path")
        return cls(swap_roots=roots, swapoff_margin_bytes=margin, mount_table=table)


# ---- lexical checks (pure: the web process runs them too) ----

#: Filesystems whose swap-file support the kernel has (bmap or iomap swap_activate) and we test.
SWAP_FILESYSTEMS = frozenset({"ext4", "xfs", "btrfs", "f2fs"})


def check_swap_path(path: str, policy: Policy, *, field: str = "path") -> str:
    """Return ``path`` if it is absolute, normalised, free of ``..``, and strictly inside one
    of the policy's swap roots; raise ValidationError naming the problem otherwise."""
    if not path.startswith("/"):
        raise ValidationError(f"{path!r} is not an absolute path", field=field)
    if ".." in path.split("/"):
        raise ValidationError(f"{path!r} contains a '..' component", field=field)
    if "\n" in path:
        raise ValidationError("the path must not contain a newline", field=field)
    if path.startswith("//") or os.path.normpath(path) != path:
        raise ValidationError(
            f"{path!r} is not normalised (write it as {os.path.normpath(path)!r})", field=field
        )
    pure = PurePosixPath(path)
    roots = [PurePosixPath(os.path.normpath(r)) for r in policy.swap_roots]
    if pure in roots:
        raise ValidationError(
            f"{path} is a swap root itself; name a file inside it, e.g. {path}/swap0",
            field=field,
        )
    if not any(pure.is_relative_to(r) for r in roots):
        allowed = ":".join(str(r) for r in roots)
        raise ValidationError(
            f"{path} is outside the swap roots ({allowed}); choose a path inside one, or add "
            "its directory to SWAPADMIN_SWAP_ROOTS on the host",
            field=field,
        )
    return path


# ---- host checks (the worker runs these again before it touches anything) ----


def nearest_existing(path: str) -> Path:
    """``path`` itself or its closest ancestor that exists."""
    p = Path(path)
    while not p.exists():
        p = p.parent
    return p


def check_swap_filesystem(path: str, fd: int | None = None) -> str:
    """Return the name of the filesystem that holds (or will hold) ``path``, read from the
    open directory ``fd`` when given; raise UnsafeError when the kernel cannot swap to a
    file there, instead of letting swapon fail with EINVAL."""
    from . import devices

    magic = devices.fs_magic_fd(fd) if fd is not None else devices.fs_magic(nearest_existing(path))
    name = devices.fs_name(magic)
    if name not in SWAP_FILESYSTEMS:
        raise UnsafeError(
            f"{path} would be on {name}, where the kernel cannot swap to a file (it needs a "
            f"filesystem that maps file blocks to disk: {', '.join(sorted(SWAP_FILESYSTEMS))}). "
            "Choose a swap root on one of those."
        )
    return name


def free_and_reserve(where: str | Path | int, reserve_percent: float) -> tuple[int, int]:
    """The bytes free to an unprivileged writer on the filesystem of ``where`` (a directory,
    or an open descriptor on it), and ``reserve_percent`` of its size in bytes."""
    at = where if isinstance(where, int) else nearest_existing(str(where))
    try:
        st = os.statvfs(at)
    except OSError as e:
        # The kernel's words, so that an allocation measured after it took its bytes gives
        # them back and says why, rather than reaching the job as an internal error (220/5).
        shown = "the swap file's filesystem" if isinstance(where, int) else str(at)
        raise KernelError(
            f"cannot read the free space of {shown}: {e.strerror}", errno=e.errno
        ) from e
    return st.f_bavail * st.f_frsize, int(st.f_blocks * st.f_frsize * reserve_percent / 100)


def check_free_space(
    where: str | Path | int,
    needed_bytes: int,
    path: str = "",
    *,
    reserve_percent: float = 1.0,
    why: str = "",
) -> None:
    """Raise NoRoomError unless ``needed_bytes`` fit on the filesystem of ``where`` (a
    directory, or an open descriptor on it) while ``reserve_percent`` of it stays free: a
    full root filesystem takes services down."""
    free, reserve = free_and_reserve(where, reserve_percent)
    shown = os.path.dirname(path) if path else str(where)
    if needed_bytes + reserve > free:
        raise NoRoomError(
            f"not enough free space in {shown}: the swap file needs {needed_bytes} bytes, "
            f"{free} are free and swapadmin keeps {reserve} ({reserve_percent:g}% of the "
            f"filesystem{why}) in reserve. Free some space or choose a smaller size."
        )


def check_block_device_free(path: str, dev: tuple[int, int]) -> None:
    """Raise UnsafeError when the block device ``dev`` (named ``path`` in messages) is, or
    has a partition that is, mounted; has something stacked on it (dm, md); or holds ``/``.
    Force never overrides these. Reads only, and opens nothing."""
    from . import devices

    name = devices.kernel_name(dev)
    if dev in devices.root_devices():
        raise UnsafeError(f"{path} ({name}) holds the root filesystem; it can never be swap")
    where = devices.mount_points(dev)
    if where:
        raise UnsafeError(
            f"{path} ({name}) or one of its partitions is mounted at {', '.join(where)}; "
            "unmount it first (force does not override this)"
        )
    stacked = devices.holders(dev)
    if stacked:
        raise UnsafeError(
            f"{path} ({name}) is in use by {', '.join(stacked)} (device-mapper, RAID or LVM); "
            "remove that first (force does not override this)"
        )


def check_block_device_empty(path: str, dev: tuple[int, int], signatures: list[Any]) -> None:
    """Raise UnsafeError when ``signatures`` (read from the device) show a filesystem, RAID
    or partition table: making it swap destroys that. A swap signature is fine."""
    from . import devices

    found = [s for s in signatures if s.type != "swap"]
    if found:
        what = ", ".join(
            f"{s.type}" + (f" labelled {s.label!r}" if s.label else "") + f" at {s.offset:#x}"
            for s in found
        )
        raise UnsafeError(
            f"{path} ({devices.kernel_name(dev)}) holds data: {what}. Making it swap destroys "
            "that; confirm with force if that is what you want."
        )
