"""The embedded broker's reader (kombu's filesystem transport) takes any file whose name
ends in ``.<queue>.msg`` without a lock; kombu's writer created the file under that name
before writing it, and a worker polling every 10 ms once read an empty message and died.
Ours writes under another name and renames the message into place when whole."""

from __future__ import annotations

import os
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection

from swapadmin.core import broker


@pytest.fixture
def channel(tmp_path: Path) -> Any:
    folder = tmp_path / "out"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "processed_folder": str(tmp_path),
        "store_processed": False,
        "control_folder": str(tmp_path / "control"),
    }
    with Connection(transport=broker.Transport, transport_options=options) as conn:
        yield conn.default_channel


def test_a_reader_sees_nothing_until_the_message_is_whole(
    channel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen_before: list[str] = []
    real_rename = broker._rename

    def rename_once_looked(src: str, dst: str) -> None:
        # The moment kombu's writer was exposed: the file exists, the message is written
        # or not. A reader looking now finds nothing of it.
        try:
            seen_before.append(repr(channel._get("jobs")))
        except Empty:
            seen_before.append("nothing")
        real_rename(src, dst)

    monkeypatch.setattr(broker, "_rename", rename_once_looked)
    channel._put("jobs", {"job": 1})
    assert seen_before == ["nothing"]
    assert channel._get("jobs") == {"job": 1}


def test_messages_keep_their_order_and_leave_no_partial_file(channel: Any) -> None:
    for n in range(5):
        channel._put("jobs", {"job": n})
    assert [channel._get("jobs")["job"] for _ in range(5)] == [0, 1, 2, 3, 4]
    assert not [f for f in os.listdir(channel.data_folder_out) if f.startswith(".partial")]
