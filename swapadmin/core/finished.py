"""The jobs this worker finished, kept by the worker itself: a signed job runs once.

A job's signature says what the control plane authorised, not how often. Someone who can
write the database (a host's worker.env) could set a finished job back to queued, with its
backend row back as it was signed, and its message sent again (the sweep's ``resend_lost``
even does that for them): within the signature's life the worker would obey it again, and a
forced provision would format a disk given back to a filesystem meanwhile. The database
cannot say "this ran already" to a worker that must not trust it, so the worker keeps its
own record, in its data directory: one line per finished job, its uuid and the end of its
signature's life, after which the signature is refused anyway and the line can go.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings

FILE_NAME = "finished-jobs"
#: Past this size the lines whose signatures have expired are dropped.
PRUNE_BYTES = 1 << 20


def _path() -> Path:
    d = Path(settings.DATA_DIR) / "worker"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d / FILE_NAME


def _open(flags: int) -> int:
    # Never through a link: under `make run` the data directory is another account's.
    return os.open(_path(), flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def ran_here(uuid: str) -> bool:
    """Whether this worker finished job ``uuid`` already."""
    try:
        fd = _open(os.O_RDONLY)
    except FileNotFoundError:
        return False
    with os.fdopen(fd, "r") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH)  # never halfway through a prune
        return any(line.split(" ", 1)[0] == uuid for line in f)


def not_after_of(signed_spec: str) -> str:
    """The end of a signature's life, from its specification (a day from now if it has none
    that can be read: a line kept too long costs nothing)."""
    try:
        value = json.loads(signed_spec).get("not_after")
        datetime.fromisoformat(str(value))
        return str(value)
    except (ValueError, AttributeError, TypeError):
        return (datetime.now(UTC) + timedelta(days=1)).isoformat()


def record(uuid: str, signed_spec: str) -> None:
    """Remember that job ``uuid`` finished here; drop the expired lines now and then."""
    line = f"{uuid} {not_after_of(signed_spec)}\n".encode()
    fd = _open(os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the pool's processes append one at a time
        os.write(fd, line)
        if os.fstat(fd).st_size > PRUNE_BYTES:
            _prune(fd)
    finally:
        os.close(fd)


def _prune(locked: int) -> None:
    """Keep the lines whose signatures are still alive (the caller holds the file's lock)."""
    now = datetime.now(UTC)
    with open(_path(), "rb") as f:
        lines = f.readlines()

    def alive(raw: bytes) -> bool:
        try:
            return datetime.fromisoformat(raw.decode().split(" ", 1)[1].strip()) > now
        except (ValueError, IndexError):
            return False

    kept = b"".join(raw for raw in lines if alive(raw))
    os.ftruncate(locked, 0)
    os.write(locked, kept)
