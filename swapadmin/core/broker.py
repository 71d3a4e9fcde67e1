"""The embedded broker (``make run``): kombu's filesystem transport, with whole messages.

kombu's own ``_put`` creates the message file under its final name, then locks and writes
it; its ``_get`` neither locks nor waits: it moves any file whose name ends in
``.<queue>.msg`` and reads it. A reader polling every 10 ms (settings) could take a file
created but not yet written, read nothing, and the worker died on the JSON error (seen
once in a round under ``taskset -c 0``). Here a message is written under a name no queue
matches and renamed into place when whole: a rename within a directory is atomic.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import os
import stat
import time
import uuid
from queue import Empty
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)
_COUNT = itertools.count()
#: Names no queue matches (kombu reads ``<anything>.<queue>.msg``): a message being written,
#: and one a reader has taken.
PARTIAL = ".partial-"
TAKEN = ".taken-"
#: A partial or taken file older than this was left by a process killed mid-way.
STALE_SECONDS = 600
_rename = os.rename  # a rename within one directory: readers see the whole file or none
_take = os.rename  # a reader's: of two readers' renames of one file, one fails


class Channel(filesystem.Channel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for folder in {self.data_folder_in, self.data_folder_out}:
            _sweep(folder)

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        """Put ``payload`` onto ``queue``, visible to readers only once whole: after a power
        cut a message is whole or missing (then its job is sent again), never empty."""
        final = os.path.join(self.data_folder_out, self._message_name(queue))
        partial = os.path.join(self.data_folder_out, f"{PARTIAL}{uuid.uuid4().hex}")
        try:
            with open(partial, "xb", opener=_exclusive) as f:
                f.write(str_to_bytes(dumps(payload)))
                f.flush()
                # On disk before its name: a renamed file could otherwise be empty after a
                # power cut, the very message this transport keeps from readers.
                os.fsync(f.fileno())
            _rename(partial, final)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            if isinstance(exc, OSError):
                raise ChannelError(f"Cannot add file {final!r} to directory") from exc
            raise

    def _get(self, queue: str) -> Any:
        """The next message of ``queue``. It is opened by its name (following no link,
        waiting on no FIFO), then taken by a rename within the folder (of two readers one
        wins), then read from the descriptor, which nothing removing the name can take
        away. A message that cannot be opened for now stays queued (ChannelError); one
        that is no regular file, or not JSON, is dropped and logged, where kombu's reader
        stopped the worker. kombu's own also moved each message to the system's temporary
        directory (a copy that follows links when that is another filesystem); messages
        are never kept here (``store_processed``)."""
        wanted = f"{queue}.msg"
        folder = self.data_folder_in
        for name in sorted(os.listdir(folder)):
            if name.partition(".")[2] != wanted:
                continue
            path = os.path.join(folder, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # another reader took it
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise ChannelError(f"Cannot read file {path!r} from queue.") from exc
                _drop(folder, name, "a symbolic link")
                continue
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)  # a FIFO, a directory: Python's file object refuses those
                _drop(folder, name, "not a regular file")
                continue
            with open(fd, "rb") as f:
                taken = os.path.join(folder, f"{TAKEN}{uuid.uuid4().hex}")
                try:
                    _take(path, taken)
                except FileNotFoundError:
                    continue  # another reader took it
                except OSError as exc:
                    raise ChannelError(f"Cannot take file {path!r} from queue.") from exc
                try:
                    payload = f.read()
                except OSError as exc:
                    with contextlib.suppress(OSError):
                        os.rename(taken, path)  # queued again for a later try
                    raise ChannelError(f"Cannot read file {path!r} from queue.") from exc
                with contextlib.suppress(OSError):
                    os.unlink(taken)
            try:
                return loads(bytes_to_str(payload))
            except ValueError:
                log.error("dropped message %s of queue %s: not JSON (%d bytes)", name, queue,
                          len(payload))  # fmt: skip
        raise Empty()

    @staticmethod
    def _message_name(queue: str) -> str:
        # Readers take files in name order: the time in ns and this process's count keep
        # one publisher's messages in order (kombu's milliseconds and a uuid did not).
        return f"{time.monotonic_ns():020d}_{next(_COUNT):012d}_{uuid.uuid4()}.{queue}.msg"


def _exclusive(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def _drop(folder: str, name: str, why: str) -> None:
    """Take ``name`` out of the queue for good (a link, a FIFO, a directory planted there)."""
    taken = os.path.join(folder, f"{TAKEN}{uuid.uuid4().hex}")
    try:
        _take(os.path.join(folder, name), taken)
    except OSError:
        return  # another reader took it
    log.error("dropped message %s: %s", name, why)
    _remove(taken)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        if stat.S_ISDIR(os.lstat(path).st_mode):
            os.rmdir(path)
        else:
            os.unlink(path)


def _sweep(folder: str, now: float | None = None) -> None:
    """Remove what a publisher or reader killed mid-way left (a message half written, or
    taken and never read): its job is sent again by the sweep; the file would stay for
    ever. Only files untouched for longer than any write or read takes: a rename sets the
    change time (not the modification time, which a message taken after a long wait keeps),
    so a reader's file just taken is never one."""
    cutoff = (time.time() if now is None else now) - STALE_SECONDS
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.startswith((PARTIAL, TAKEN)):
                continue
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if max(st.st_mtime, st.st_ctime) < cutoff:
                    _remove(entry.path)


class Transport(filesystem.Transport):
    Channel = Channel
