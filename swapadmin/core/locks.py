"""Host-local locks of the worker: flock(2) on files under DATA_DIR/locks, held by this
process only (released if it dies)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from backends import BackendError

from .context import Busy


def open_lock(name: str) -> int:
    """The lock file ``name`` under DATA_DIR/locks, opened by this (root) worker. Under
    `make run` that directory belongs to the unprivileged account web and beat run as: a
    link planted there must not make root create or open a file elsewhere, so neither the
    directory nor the file is followed if it is a symbolic link."""
    d = Path(settings.DATA_DIR) / "locks"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        return os.open(f"{name}.lock", flags, 0o600, dir_fd=dfd)
    finally:
        os.close(dfd)


@contextmanager
def exclusive(name: str) -> Iterator[None]:
    """A host-local lock held by this process (flock: released if the process dies)."""
    fd = open_lock(name)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"another job holds the lock {name} on this host") from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def exclusive_wait(
    name: str,
    *,
    why: str,
    timeout: float,
    on_wait: Callable[[], None] | None = None,
    check: Callable[[], None] | None = None,
) -> Iterator[None]:
    """A host-local lock like ``exclusive``, but waited for (up to ``timeout`` seconds,
    calling ``on_wait`` once when it has to wait): for what must happen one at a time on a
    host but may happen soon, such as swapoffs that each need RAM. ``check`` is called
    while waiting and once the lock is taken: it raises to give up (a cancel asked
    meanwhile), so a wait never ends in an action nobody wants any more."""
    fd = open_lock(name)
    try:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BackendError(
                        f"waited {timeout:.0f} s for {why}; try again later", retryable=True
                    ) from None
                if not waited and on_wait is not None:
                    on_wait()
                waited = True
                if check is not None:
                    check()
                time.sleep(0.2)
        try:
            if check is not None:
                check()
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


#: Every swapoff and burn-in on a host takes this lock: each one's RAM check is only true
#: while no other one is pulling pages back into RAM or pushing them out.
HOST_MEMORY_LOCK = "host-memory"
HOST_MEMORY_WAIT_SECONDS = 600.0
