"""Secrets kept in files of the data directory (the secret key, a signing key): readable by
their owner alone from their first byte, made once even when two processes start together.

A secret is written to a fresh file opened with O_CREAT|O_EXCL and mode 0600 (never a
moment with a wider mode, whatever the umask), flushed, then linked under its name:
link(2) never replaces a file, so of two processes racing to make the secret one wins and
the other reads the winner's, always complete. Reading never follows a symbolic link, so a
link planted in place of the file cannot make a root process read another file as its key.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

__all__ = ["SecretFileError", "read_or_create_secret"]

SECRET_MODE = 0o600


class SecretFileError(Exception):
    """A secret file that cannot be used as it is; the message names it and what to do."""


def read_or_create_secret(path: Path, make: Callable[[], bytes]) -> bytes:
    """The secret kept in ``path``; made with ``make`` and written 0600 when there is none."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    secret = make()
    if not secret:
        raise SecretFileError(f"refusing to write an empty secret to {path}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(6).hex()}")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, SECRET_MODE)
    try:
        try:
            os.write(fd, secret)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _read(path)  # another process made it first: its secret is the one
        return secret
    finally:
        os.unlink(tmp)


def _read(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise SecretFileError(
                f"{path} is a symbolic link; a secret file must be a plain file: remove it"
            ) from None
        raise
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SecretFileError(f"{path} is not a plain file: remove it")
        if st.st_mode & 0o077 and st.st_uid == os.geteuid():
            # Left readable by others by an older swapadmin (which wrote, then chmodded).
            os.fchmod(fd, SECRET_MODE)
        secret = f.read()
    if not secret.strip():
        raise SecretFileError(f"{path} is empty: remove it and a new secret is made")
    return secret
