"""The embedded broker's reader (kombu's filesystem transport) takes any file whose name
ends in ``.<queue>.msg`` without a lock; kombu's writer created the file under that name
before writing it, and a worker polling every 10 ms once read an empty message and died.
Ours writes under another name and renames the message into place when whole (on disk
first), and reads what it takes through a descriptor that follows no link and waits on
nothing: a message that is not JSON is dropped, not the worker's death, and what a killed
process left half-way is swept."""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection

from swapadmin.core import broker


def msg(n: object) -> dict[str, Any]:
    """A message in the shape kombu's channels put and read (``basic_publish``)."""
    return {
        "body": str(n),
        "headers": {},
        "properties": {
            "delivery_tag": str(n),
            "delivery_info": {"exchange": "", "routing_key": "jobs"},
        },
    }


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
    channel._put("jobs", msg(1))
    assert seen_before == ["nothing"]
    assert channel._get("jobs") == msg(1)


def test_messages_keep_their_order_and_leave_no_partial_file(channel: Any) -> None:
    for n in range(5):
        channel._put("jobs", msg(n))
    assert [channel._get("jobs") for _ in range(5)] == [msg(n) for n in range(5)]
    assert not [f for f in os.listdir(channel.data_folder_out) if f.startswith(".partial")]


def message(channel: Any, queue: str) -> Path:
    """A name the reader takes for ``queue``, ahead of every message ours make."""
    return Path(channel.data_folder_in) / f"-first.{queue}.msg"  # "-" sorts before digits


def opens_fail(monkeypatch: pytest.MonkeyPatch, suffix: str, code: int) -> None:
    """Opening a file whose name ends in ``suffix`` fails with ``code`` until undone."""
    real_open = os.open

    def failing(path: Any, flags: int, *args: Any) -> int:
        if str(path).endswith(suffix):
            raise OSError(code, os.strerror(code))
        return real_open(path, flags, *args)

    monkeypatch.setattr(broker.os, "open", failing)


def deliverable_but(**changes: Any) -> bytes:
    """A message that parses, with ``changes`` kombu's or Celery's delivery would fail on."""
    m = msg(1)
    for where, value in changes.items():
        *path, last = where.split("__")
        d = m
        for key in path:
            d = d[key]
        d[last] = value
    return json.dumps(m).encode()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b"{}",
        b'{"properties": 5}',
        b"[" * 100_000,
        deliverable_but(headers=["task"]),
        deliverable_but(properties__body_encoding="rot13"),
        deliverable_but(properties__body_encoding=5),
        deliverable_but(properties__delivery_tag=["x"]),
        deliverable_but(properties__delivery_info=None),
        deliverable_but(headers={"task": "swapadmin.core.tasks.run_job"}),
    ],
    ids=[
        "empty",
        "a list",
        "no properties",
        "properties of another shape",
        "nested deep",
        "headers a list",
        "an unknown body encoding",
        "a body encoding of another type",
        "a tag not hashable",
        "no delivery info",
        "a task without an id",
    ],
)
def test_a_file_that_is_no_message_is_dropped_and_the_next_one_read(
    channel: Any, caplog: pytest.LogCaptureFixture, body: bytes
) -> None:
    message(channel, "jobs").write_bytes(body)  # the empty one: what kombu's writer exposed
    channel._put("jobs", msg(2))
    assert channel._get("jobs") == msg(2)
    assert f"not a message ({len(body)} bytes)" in caplog.text
    assert sorted(os.listdir(channel.data_folder_in)) == []


def test_a_file_that_cannot_be_opened_is_dropped_not_met_again_at_every_start(
    channel: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A Unix socket named as a message (ENXIO on open): kombu's consumer would end the
    worker on any error out of the read, and the restarted one would meet it first again."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(message(channel, "jobs")))
        channel._put("jobs", msg(2))
        assert channel._get("jobs") == msg(2)
    assert "dropped message -first.jobs.msg: " in caplog.text
    assert os.listdir(channel.data_folder_in) == []


@pytest.mark.parametrize("what", ["a link to a message", "a FIFO"])
def test_a_message_that_is_no_regular_file_is_never_followed_or_waited_on(
    channel: Any, tmp_path: Path, what: str
) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text(json.dumps(msg("planted")))
    if what == "a FIFO":
        os.mkfifo(message(channel, "jobs"))  # opened for reading, it would wait for a writer
    else:
        message(channel, "jobs").symlink_to(target)
    with pytest.raises(Empty):
        channel._get("jobs")
    assert json.loads(target.read_text()) == msg("planted")
    assert os.listdir(channel.data_folder_in) == []


def test_a_publish_cut_short_leaves_no_partial_file(
    channel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(broker, "_rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        channel._put("jobs", msg(1))
    assert os.listdir(channel.data_folder_out) == []


def test_what_a_killed_process_left_is_swept_and_nothing_live(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    left = [folder / f"{broker.PARTIAL}left", folder / f"{broker.TAKEN}left"]
    queued = folder / "1_x.jobs.msg"
    for f in [*left, queued]:
        f.write_text("{}")
    # Ten minutes and more later, by a clock that moved on while the files did not; one
    # publisher was writing a partial file just then.
    later = time.time() + broker.STALE_SECONDS + 60
    writing = folder / f"{broker.PARTIAL}writing"
    writing.write_text("{")
    os.utime(writing, (later, later))

    broker._sweep(str(folder), now=later)

    assert sorted(os.listdir(folder)) == sorted([queued.name, writing.name])


def test_a_message_taken_after_a_long_wait_is_not_swept_under_its_reader(
    channel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename keeps a file's modification time: a message queued for an hour looks
    stale the moment it is taken. A channel starting then (a worker, a publisher) must
    not remove it before its reader has read it."""
    channel._put("jobs", msg("waited"))
    [name] = os.listdir(channel.data_folder_in)
    an_hour_ago = time.time() - 3600
    os.utime(os.path.join(channel.data_folder_in, name), (an_hour_ago, an_hour_ago))
    real_take = broker._take

    def take_then_a_channel_starts(src: str, dst: str) -> None:
        real_take(src, dst)
        options = {"data_folder_in": channel.data_folder_in,
                   "data_folder_out": channel.data_folder_out}  # fmt: skip
        with Connection(transport=broker.Transport, transport_options=options) as conn:
            conn.default_channel  # noqa: B018  # its start sweeps the folder
        assert os.path.exists(dst)  # the rename's change time is now: not stale

    monkeypatch.setattr(broker, "_take", take_then_a_channel_starts)
    assert channel._get("jobs") == msg("waited")


def test_a_message_that_cannot_be_opened_for_now_stays_queued(
    channel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel._put("jobs", msg(1))
    opens_fail(monkeypatch, ".jobs.msg", errno.EMFILE)
    with pytest.raises(Empty):  # what the consumer waits a poll on, not the worker's end
        channel._get("jobs")
    monkeypatch.undo()
    assert channel._get("jobs") == msg(1)


def test_a_queue_listed_short_of_descriptors_waits_a_poll(
    channel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel._put("jobs", msg(1))

    def out_of_descriptors(path: Any) -> list[str]:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(broker.os, "listdir", out_of_descriptors)
    with pytest.raises(Empty):
        channel._get("jobs")
    monkeypatch.undo()
    assert channel._get("jobs") == msg(1)


def test_a_message_someone_holds_a_lease_on_is_passed_over_said_once(
    channel: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The folder's owner may hold a lease on a file (EAGAIN on a non-blocking open, up to
    the kernel's lease-break time): the messages behind it still go, and the file is said
    once, not at every poll."""
    message(channel, "jobs").write_bytes(json.dumps(msg("held")).encode())
    for n in range(3):
        channel._put("jobs", msg(n))
    opens_fail(monkeypatch, "-first.jobs.msg", errno.EAGAIN)  # a lease someone holds
    assert [channel._get("jobs") for _ in range(3)] == [msg(n) for n in range(3)]
    with pytest.raises(Empty):
        channel._get("jobs")
    assert caplog.text.count("-first.jobs.msg left queued") == 1
    monkeypatch.undo()
    assert channel._get("jobs") == msg("held")


def test_a_file_too_large_for_a_message_is_dropped_unread(
    channel: Any, caplog: pytest.LogCaptureFixture
) -> None:
    big = json.dumps(msg("x" * broker.MAX_MESSAGE_BYTES)).encode()  # a message, but too large
    message(channel, "jobs").write_bytes(big)
    channel._put("jobs", msg(1))
    assert channel._get("jobs") == msg(1)
    assert "dropped message -first.jobs.msg: too large" in caplog.text
    assert os.listdir(channel.data_folder_in) == []


def test_kombus_own_messages_are_delivered_past_a_file_that_is_none(tmp_path: Path) -> None:
    """Through kombu's producer and consumer, as the worker reads them: what kombu writes
    passes the reader's checks, and a planted file ahead of it stops nothing."""
    folder = tmp_path / "out"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "store_processed": False,
        "control_folder": str(tmp_path / "control"),
        "polling_interval": 0.01,
    }
    with Connection(transport=broker.Transport, transport_options=options) as conn:
        queue = conn.SimpleQueue("jobs")
        (folder / "-first.jobs.msg").write_bytes(deliverable_but(headers=["task"]))
        queue.put({"job": 7})
        got = queue.get(timeout=30)
        assert got.payload == {"job": 7}
        got.ack()
        queue.close()


def test_a_directory_named_as_a_message_is_taken_out_of_the_queue(channel: Any) -> None:
    message(channel, "jobs").mkdir()
    channel._put("jobs", msg(1))
    assert channel._get("jobs") == msg(1)
    assert os.listdir(channel.data_folder_in) == []
