"""A mail server that answers a byte at a time holds a delivery round only until the round's
time limit, not for ever.

EMAIL_TIMEOUT bounds each read, and every byte resets it: a server trickling its greeting
kept the control worker's notify task (and its pool slot) for as long as it liked. The task
now has a time limit (SWAPADMIN_NOTIFY_TIME_LIMIT_SECONDS): when it runs out the target is
recorded as pending with why, the connection is dropped, and the event is tried again later.
The server here never finishes a line, so the only way the record appears is the limit.

The task is registered in this process too (as it is in a web or host process that raises
events): Celery then put this process's limit (the default 300 s) into the message, over the
delivering worker's own. The limit is the delivering worker's alone now."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from swapadmin.celery import app
from swapadmin.health import notify
from swapadmin.health import tasks as _registers_notify_event  # noqa: F401
from swapadmin.health.models import HealthEvent
from tests.faults.own_servers import celery_sends_to, own_redis
from tests.fixtures.workers import wait_until

pytestmark = [pytest.mark.root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@contextmanager
def trickling_server() -> Iterator[tuple[int, threading.Event]]:
    """Accepts one connection and sends '2' every 0.2 s, never a newline; ``hung_up`` is
    set when the client closes the connection."""
    hung_up = threading.Event()
    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def closed(conn: socket.socket) -> bool:
        try:
            return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            while not stop.is_set():
                try:
                    conn.sendall(b"2")
                    if closed(conn):
                        break
                except OSError:
                    break
                stop.wait(0.2)  # the server's own pace, not a wait for an outcome
            else:
                return
        hung_up.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], hung_up
    finally:
        stop.set()
        listener.close()
        thread.join(10)


def test_the_round_stops_at_its_limit_and_says_why(start_worker, scratch, host_row) -> None:
    # Registered in this process, as in every process that raises events (and in the suite
    # once any test has finalized the app): its limits are this process's, 300 s.
    assert app.tasks[notify.NOTIFY_TASK].soft_time_limit == 300
    event = HealthEvent.objects.create(
        host=host_row, backend_name="swap0", from_status="ok", to_status="warn", message="91%"
    )
    with (
        trickling_server() as (port, hung_up),
        own_redis(scratch) as broker,
        celery_sends_to(broker.url),
    ):
        w = start_worker(
            pool="prefork",  # as make run and compose run it: time limits need a pool child
            broker_url=broker.url,
            wait=False,
            env={
                "SWAPADMIN_WORKER_QUEUES": "control",
                "EMAIL_URL": f"smtp://127.0.0.1:{port}/?timeout=2",
                "SWAPADMIN_ALERT_EMAILS": "ops@example.com",
                "SWAPADMIN_NOTIFY_TIME_LIMIT_SECONDS": "3",
            },
        )
        notify.queue_notification(event.pk)

        def recorded() -> dict | None:
            entry = HealthEvent.objects.get(pk=event.pk).deliveries.get("email:ops@example.com")
            return entry if entry and "time limit" in entry.get("error", "") else None

        try:
            entry = wait_until(recorded, 60, "the round's time limit")
        except AssertionError:
            raise AssertionError(f"no time-limit record; worker log:\n{w.log()[-4000:]}") from None
        assert entry["state"] == "pending"
        assert hung_up.wait(30), "the worker dropped the connection"
