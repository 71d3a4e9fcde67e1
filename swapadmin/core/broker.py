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
from typing import Any, TypeGuard

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
#: Errors of the whole process, not of one file: the queue waits for the next poll.
SHORTAGES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM})
#: A message file larger than this is no message of ours (a task's arguments are ids).
MAX_MESSAGE_BYTES = 1 << 20
#: How often a file met at every poll (left queued, passed over) is said again.
SAY_EVERY_SECONDS = 60.0
#: A partial or taken file older than this was left by a process killed mid-way.
STALE_SECONDS = 600
_rename = os.rename  # a rename within one directory: readers see the whole file or none
_take = os.rename  # a reader's: of two readers' renames of one file, one fails


class Channel(filesystem.Channel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        #: When each file met at every poll was last said (``_say``).
        self._said: dict[str, float] = {}
        super().__init__(*args, **kwargs)
        for folder in {self.data_folder_in, self.data_folder_out}:
            _sweep(folder)

    # kombu's filesystem Channel, whose signatures these keep, narrows its base's _put and
    # _get (no timeout, a payload with keywords): its stubs ignore the same overrides.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
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

    def _get(self, queue: str) -> Any:  # type: ignore[override]  # as _put's
        """The next message of ``queue``. No one file can stop the queue: kombu's consumer
        lets any error out of here, or out of the delivery that follows, end the worker,
        which would meet the same file first again at its restart (and every queue of that
        worker would wait). So a file that is no message, or not one kombu can deliver, is
        dropped; one that cannot be taken for now is passed over, left queued; and only a
        shortage of the whole process (descriptors, memory) makes the queue wait a poll.
        Each is logged, once a minute at most for a file that stays. kombu's own reader
        also moved each message to the system's temporary directory (a copy that follows
        links when that is another filesystem); messages are never kept here
        (``store_processed``)."""
        wanted = f"{queue}.msg"
        folder = self.data_folder_in
        try:
            names = sorted(os.listdir(folder))
        except OSError as exc:
            if exc.errno not in SHORTAGES:
                raise
            self._say(folder, f"the queue {queue} waits: {exc.strerror}")
            raise Empty() from exc
        for name in names:
            if name.partition(".")[2] != wanted:
                continue
            payload = self._take_one(folder, name)
            if payload is None:
                continue
            message = self._message(payload)
            if message is not None:
                return message
            log.error("dropped message %s of queue %s: not a message (%d bytes)", name, queue,
                      len(payload))  # fmt: skip
        self._forget_gone(names)
        raise Empty()

    def _take_one(self, folder: str, name: str) -> bytes | None:
        """The bytes of the message ``name``, now no longer queued; None when another
        reader took it, it was dropped or it cannot be taken for now (these two logged);
        Empty when the whole process is short of descriptors or memory. It is
        opened by its name (following no link, waiting on no FIFO), taken by a rename
        within the folder (of two readers one wins), and read from the descriptor, which
        no one removing the name meanwhile can take away."""
        path = os.path.join(folder, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None  # another reader took it
        except OSError as exc:
            if exc.errno in SHORTAGES:
                self._say(name, f"message {name} left queued: {exc.strerror}")
                raise Empty() from exc  # the whole process is short: the next poll
            if exc.errno == errno.EAGAIN:  # a lease someone holds on it: later
                self._say(name, f"message {name} left queued: {exc.strerror}")
                return None
            why = "a symbolic link" if exc.errno == errno.ELOOP else str(exc.strerror)
            self._drop(folder, name, why)
            return None
        try:
            st = os.fstat(fd)
            too_large = st.st_size > MAX_MESSAGE_BYTES
            f = open(fd, "rb") if stat.S_ISREG(st.st_mode) and not too_large else None  # noqa: SIM115
        except BaseException:
            os.close(fd)
            raise
        if f is None:
            os.close(fd)
            self._drop(folder, name, "too large" if too_large else "not a regular file")
            return None
        with f:
            taken = os.path.join(folder, f"{TAKEN}{uuid.uuid4().hex}")
            try:
                _take(path, taken)
            except FileNotFoundError:
                return None  # another reader took it
            except OSError as exc:
                self._say(name, f"message {name} passed over: it cannot be taken: {exc.strerror}")
                return None
            try:
                payload = f.read(MAX_MESSAGE_BYTES + 1)
            except OSError as exc:
                log.error("dropped message %s: it cannot be read: %s", name, exc.strerror)
                return None
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(taken)
        if len(payload) > MAX_MESSAGE_BYTES:  # grown since its size was read
            log.error("dropped message %s: too large", name)
            return None
        return payload

    def _message(self, payload: bytes) -> dict[str, Any] | None:
        """The message ``payload`` holds if kombu can deliver it; None for any other bytes
        (kombu's delivery, which runs after this returns, would otherwise end the worker on
        them: a header of another type, an unknown body encoding, a tag not hashable)."""
        try:
            message = loads(bytes_to_str(payload))
            if not _message_shaped(message):
                return None
            tried = self.Message(message, channel=self)  # what the delivery builds first
            hash(tried.delivery_tag)
        except Exception:  # not JSON, nested beyond the parser, a type kombu refuses
            return None
        return message

    def _drop(self, folder: str, name: str, why: str) -> None:
        """Take ``name`` out of the queue for good (a link, a FIFO, a directory planted
        there, a file too large)."""
        taken = os.path.join(folder, f"{TAKEN}{uuid.uuid4().hex}")
        try:
            _take(os.path.join(folder, name), taken)
        except FileNotFoundError:
            return  # another reader took it
        except OSError as exc:
            self._say(name, f"message {name} ({why}) cannot be dropped: {exc.strerror}")
            return
        log.error("dropped message %s: %s", name, why)
        _remove(taken)

    def _say(self, key: str, text: str) -> None:
        """Log ``text`` about ``key`` (a file that stays where it is) once a minute at most:
        it is met again at every poll, a hundred times a second."""
        said = self._said
        now = time.monotonic()
        if now - said.get(key, -SAY_EVERY_SECONDS) >= SAY_EVERY_SECONDS:
            said[key] = now
            log.warning("%s", text)

    def _forget_gone(self, names: list[str]) -> None:
        for key in set(self._said) - set(names) - {self.data_folder_in}:
            del self._said[key]

    @staticmethod
    def _message_name(queue: str) -> str:
        # Readers take files in name order: the time in ns and this process's count keep
        # one publisher's messages in order (kombu's milliseconds and a uuid did not).
        return f"{time.monotonic_ns():020d}_{next(_COUNT):012d}_{uuid.uuid4()}.{queue}.msg"


def _message_shaped(message: object) -> TypeGuard[dict[str, Any]]:
    """Whether ``message`` has the fields kombu's and Celery's delivery index without a
    check of their own."""
    if not isinstance(message, dict):
        return False
    properties = message.get("properties")
    headers = message.get("headers")
    if not isinstance(properties, dict) or not isinstance(headers, (dict, type(None))):
        return False
    info = properties.get("delivery_info")
    if not isinstance(info, dict) or not all(
        isinstance(info.get(k), str) for k in ("exchange", "routing_key")
    ):
        return False
    if headers and "task" in headers:
        return isinstance(headers.get("task"), str) and isinstance(headers.get("id"), str)
    return True


def _exclusive(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


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
