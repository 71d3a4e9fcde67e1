"""Who `make run`'s web server and beat run as, and the data directory they share with the
root worker.

Only the worker needs root (swapon, loop and zram devices, the fstab). The web server faces
the network and beat only publishes, so when runall is root they run as an unprivileged
account that owns the data directory (SQLite and the embedded broker are files there,
written by all three; root reaches them whatever their owner). Nobody else may read that
directory: it holds the secret key, the sessions and API token digests, and the jobs'
messages. An earlier swapadmin left it 0755 with 0644 files owned by root, and this start's
migrate (as root) makes files too, so runall closes it again before starting anyone.

Plain functions, no Django: runall calls them, the tests call them directly.
"""

from __future__ import annotations

import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

#: The account `make run` creates and runs web and beat as (SWAPADMIN_RUN_AS names another).
DEFAULT_ACCOUNT = "swapadmin"
DIR_MODE = 0o700
FILE_MODE = 0o600


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` as a process of this account expects it (not root's home)."""
        return {**base, "HOME": self.home, "USER": self.name, "LOGNAME": self.name}


def account(name: str) -> Account | None:
    """The account called ``name`` (a name or a numeric uid), or None if there is none."""
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except KeyError:
        return None
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


def tighten(data_dir: Path, owner: Account | None) -> list[str]:
    """Close ``data_dir`` to everyone but its owner: every directory 0700, every file 0600.
    With ``owner``, what root owns in it is handed to
    ``owner``. Returns what is still open to others (it could not be changed).

    Root walks a directory its owner can write, so nothing here follows a symbolic link
    (fwalk does not descend into one; files are opened with O_NOFOLLOW and changed through
    the descriptor), and a file with more than one link is left alone: a hard link planted
    here to a file elsewhere is not this directory's to chown or chmod."""
    left_open: list[str] = []
    for dirpath, _dirs, files, dirfd in os.fwalk(data_dir, follow_symlinks=False):
        if not _close(dirfd, owner):
            left_open.append(dirpath)
        for name in files:
            try:
                fd = os.open(
                    name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dirfd
                )
            except OSError:
                continue  # a symbolic link (ELOOP), a socket (ENXIO), gone meanwhile
            try:
                if not _close(fd, owner):
                    left_open.append(os.path.join(dirpath, name))
            finally:
                os.close(fd)
    return left_open


def _close(fd: int, owner: Account | None) -> bool:
    """Close one directory or regular file to others; False if it stays open to them."""
    st = os.fstat(fd)
    is_dir = stat.S_ISDIR(st.st_mode)
    if not is_dir and not (stat.S_ISREG(st.st_mode) and st.st_nlink == 1):
        return True  # a FIFO, a device node, a hard link: not ours to change
    try:
        if owner is not None and st.st_uid == 0 and owner.uid != 0:
            os.fchown(fd, owner.uid, owner.gid)
        mode = stat.S_IMODE(st.st_mode)
        wanted = DIR_MODE if is_dir else FILE_MODE
        if mode != wanted:
            os.fchmod(fd, wanted)
    except PermissionError:
        return not stat.S_IMODE(os.fstat(fd).st_mode) & 0o077
    return True
