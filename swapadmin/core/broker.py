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
import os
import time
import uuid
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

_COUNT = itertools.count()
_rename = os.rename  # a rename within one directory: readers see the whole file or none


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        """Put ``payload`` onto ``queue``, visible to readers only once whole."""
        final = os.path.join(self.data_folder_out, self._message_name(queue))
        partial = os.path.join(self.data_folder_out, f".partial-{uuid.uuid4().hex}")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            _rename(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    @staticmethod
    def _message_name(queue: str) -> str:
        # Readers take files in name order: the time in ns and this process's count keep
        # one publisher's messages in order (kombu's milliseconds and a uuid did not).
        return f"{time.monotonic_ns():020d}_{next(_COUNT):012d}_{uuid.uuid4()}.{queue}.msg"


class Transport(filesystem.Transport):
    Channel = Channel
