"""The four built-in backend kinds, and ``for_path`` to pick one for an existing path."""

from __future__ import annotations

import os
import stat
from typing import Any

from ..base import SwapBackend
from ..errors import ValidationError
from ..policy import Policy
from .block import BlockBackend
from .file import FileBackend

__all__ = ["for_path"]


def for_path(
    path: str, policy: Policy, force: bool = False, *, provisioning: bool = False
) -> SwapBackend:
    """The backend for an existing ``path``: a regular file under the swap roots becomes a
    FileBackend sized from the file, a block device (or a /dev/disk/by-* link to one) a
    BlockBackend; anything else raises ValidationError saying what it is. Touches nothing:
    the host checks run when the caller enables or writes (with ``provisioning``, enabling
    takes the store when those checks allow it)."""
    kw: dict[str, Any] = {"force": force, "provisioning": provisioning}
    if ".." in path.split("/"):
        raise ValidationError(f"{path!r} contains a '..' component", field="path")
    path = os.path.abspath(path)
    try:
        st = os.lstat(path)
    except OSError as e:
        raise ValidationError(f"{path}: {e.strerror}", field="path") from e
    if stat.S_ISLNK(st.st_mode):
        real = os.path.realpath(path)
        # udev's /dev/disk/by-* links are how sysadmins name disks; links to files are not.
        if real.startswith("/dev/") and _is_block(real):
            return BlockBackend({"device": real}, policy=policy, **kw)
        raise ValidationError(
            f"{path} is a symbolic link to {real}; give the real path of a swap file",
            field="path",
        )
    if stat.S_ISREG(st.st_mode):
        return FileBackend({"path": path}, size_bytes=st.st_size, policy=policy, **kw)
    if stat.S_ISBLK(st.st_mode):
        return BlockBackend({"device": path}, policy=policy, **kw)
    raise ValidationError(
        f"{path} is {_kind(st.st_mode)}; swapadmin works on regular files under the swap "
        "roots and on block devices",
        field="path",
    )


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file or a block device"


def _is_block(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False
