"""Adopting a swap area that already is one, wherever it lives.

The swap roots say where swapadmin may *create* swap files. A sysadmin's existing area
(the usual ``/swapfile``) lives where they put it, and adopting it writes nothing: it is
swapped on and off, never formatted, scanned, resized or removed (the store record says
``adopted``, and ``SwapBackend.prove`` refuses every write to such a store). So an area
outside the roots may be adopted, on two conditions that keep "adopt" from becoming a
way to hand any file to the kernel:

- it already is swap: active in /proc/swaps, or its page 0 holds a SWAPSPACE2 header;
- it is named by its real path (a symlink is followed here, once, and the real path
  recorded; the file kinds refuse a link on every later open).

Wherever an area lives, inside the roots or not, a file or a device: one that is not active
is adopted only if it already holds a swap signature (``check_is_swap``), and a swap file
only if it has one name (``check_one_name``), as activating it requires: a file with
several names cannot be proven to be only this backend's, so one adopted that way could
never be swapped on again once off, and auto-repair would fail on it for good.

The adopted file's own directory then serves as its swap root (``adopted_root`` in the
backend's state), for that backend alone: the same walk from ``/`` with the same checks
on every directory (root-owned, writable by no one else) proves the file on each job.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from . import wipefs
from .errors import BackendError, UnsafeError, ValidationError, printable
from .names import is_swap_area
from .policy import Policy

#: The state key naming the directory that serves an adopted file as its swap root.
ROOT_KEY = "adopted_root"


def inside_roots(path: str, policy: Policy) -> bool:
    pure = PurePosixPath(path)
    return any(
        pure != PurePosixPath(os.path.normpath(str(r)))
        and pure.is_relative_to(PurePosixPath(os.path.normpath(str(r))))
        for r in policy.swap_roots
    )


def check_adoptable(path: str, *, active: bool) -> None:
    """Raise unless the area at the real path ``path`` may be adopted outside the swap
    roots: a regular file or block device, not reached through a symlink, that is active
    as swap or holds a swap header. Reads page 0 at most; writes nothing."""
    if os.path.realpath(path) != os.path.normpath(path):
        raise UnsafeError(
            f"{path} goes through a symbolic link (to {os.path.realpath(path)}); "
            "adopt the real path"
        )
    try:
        st = os.lstat(path)
    except OSError as e:
        raise ValidationError(f"{path}: {e.strerror}", field="path") from None
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise UnsafeError(f"{path} is neither a regular file nor a block device")
    if not active and not is_swap_area(path):
        raise UnsafeError(
            f"{path} is outside the swap roots and is not a swap area (not active in "
            "/proc/swaps, no SWAPSPACE2 header): swapadmin adopts only what already is swap "
            "there, never an arbitrary file"
        )


def check_is_swap(path: str, *, active: bool) -> None:
    """Raise unless the area at ``path`` is swap: active in /proc/swaps, or holding a
    SWAPSPACE2 header in its page 0 (read-only, through ``header.parse_header``; blkid's
    TYPE=swap is that same signature). Anything else named in fstab as swap (a device
    holding a filesystem, an empty file) is not adopted: swapon refuses it at boot, and
    adopting it would hand it to the kernel as swap."""
    if active or is_swap_area(path):
        return
    raise UnsafeError(
        f"{path} is not a swap area (not active in /proc/swaps, no SWAPSPACE2 header"
        f"{_held_by(path)}): only swap is adopted. Nothing was written."
    )


def _held_by(path: str) -> str:
    """What wipefs finds on a block device (", it holds ext4"), else an empty string."""
    try:
        if not stat.S_ISBLK(os.lstat(path).st_mode):
            return ""
        held = sorted({s.type for s in wipefs.signatures(path) if s.type})
    except (BackendError, OSError, ValueError):
        return ""
    return f"; it holds {', '.join(held)}" if held else ""


def unadoptable_name(path: str) -> str | None:
    """Why an area cannot be adopted by its very name, or None. A backend's path is text
    that the database, the pages and the API all hold: a name that is not UTF-8 (read from
    /proc/swaps as the os module decodes names) cannot be one."""
    if printable(path) != path:
        return "its name is not UTF-8, which no backend's path can be"
    return None


def check_one_name(path: str) -> None:
    """Raise unless the file at ``path`` has one name: activation refuses a file with
    several (``FileBackend._check_file``: another name may be another backend's or a
    user's), so adopting one would make a backend that can never be swapped on again."""
    try:
        st = os.lstat(path)
    except OSError as e:
        raise ValidationError(f"{path}: {e.strerror}", field="path") from None
    if stat.S_ISREG(st.st_mode) and st.st_nlink != 1:
        raise UnsafeError(
            f"{path} has {st.st_nlink} names (hard links): a file with several names cannot "
            "be proven to be only this backend's, so swapadmin would refuse to swap it on "
            "again once off. Remove the other links (find / -xdev -samefile "
            f"{path}) and discover again. Nothing was written."
        )


def root_for(file_path: str, policy: Policy) -> str | None:
    """The directory to record as the adopted file's own swap root, or None when the file
    lies inside the host's roots already."""
    if inside_roots(file_path, policy):
        return None
    return os.path.dirname(file_path)


def root_state(file_path: str, policy: Policy, *, active: bool) -> dict[str, Any]:
    """The state an adopted file records of its swap root: none inside the host's roots;
    outside them, its own directory (``ROOT_KEY``), once it proves adoptable there."""
    root = root_for(file_path, policy)
    if root is None:
        return {}
    check_adoptable(file_path, active=active)
    return {ROOT_KEY: root}


def policy_for(policy: Policy, params: Mapping[str, Any], state: Mapping[str, Any]) -> Policy:
    """The host's policy, plus the adopted file's directory as a swap root when the state
    records one. Only the directory that holds ``params["path"]`` itself counts: an edited
    state cannot widen the roots anywhere else."""
    root = state.get(ROOT_KEY)
    path = params.get("path")
    if not isinstance(root, str) or not isinstance(path, str) or not root.startswith("/"):
        return policy
    if os.path.dirname(path) != os.path.normpath(root):
        return policy
    # Everything else of the worker's policy kept (its mount table too: review 178/4).
    return dataclasses.replace(policy, swap_roots=(*policy.swap_roots, Path(root)))
