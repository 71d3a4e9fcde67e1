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
        _sweep(self.data_folder_out)

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        """Put ``payload`` onto ``queue``, visible to readers only once whole."""
        final = os.path.join(self.data_folder_out, self._message_name(queue))
        partial = os.path.join(self.data_folder_out, f"{PARTIAL}{uuid.uuid4().hex}")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with open(fd, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
                f.flush()
                # On disk before its name: after a power cut a renamed file could otherwise
                # be empty, the very message this transport exists to keep from readers.
                os.fsync(f.fileno())
            _rename(partial, final)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            if isinstance(exc, OSError):
                raise ChannelError(f"Cannot add file {final!r} to directory") from exc
            raise

    def _get(self, queue: str) -> Any:
        """The next message of ``queue``, taken by a rename within the folder (two readers
        never both take one) and read through a descriptor that follows no link and waits
        on nothing. kombu's own moved it to the system's temporary directory, a copy that
        follows links when that is another filesystem, and a message that is not JSON
        stopped the worker; here it is dropped and logged."""
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            taken = os.path.join(self.data_folder_in, f"{TAKEN}{uuid.uuid4().hex}")
            try:
                _take(os.path.join(self.data_folder_in, name), taken)
            except OSError:
                continue  # another reader took it first
            try:
                payload = _read_regular(taken)
            finally:
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


def _read_regular(path: str) -> bytes:
    """The bytes of the regular file at ``path``; b"" for a link, a FIFO or anything else
    (which then reads as a message that is not JSON, and is dropped)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return b""
    with open(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return b""
        return f.read()


def _sweep(folder: str) -> None:
    """Remove what a publisher or reader killed mid-way left (a message half written, or
    taken and never read): its job is sent again by the sweep; the file would stay for
    ever. Only files older than any write or read takes, so no one's live file."""
    cutoff = time.time() - STALE_SECONDS
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.startswith((PARTIAL, TAKEN)):
                continue
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(entry.path)


class Transport(filesystem.Transport):
    Channel = Channel
