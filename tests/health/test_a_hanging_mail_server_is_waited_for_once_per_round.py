"""A mail server that accepts the connection and never says a word costs one EMAIL_TIMEOUT
per delivery round, not one per address: the notify task runs on the control worker, and
with 20 addresses and the 10 s default it held it for minutes, round after round. Each
address still gets the timeout as its error. The server here is a listening socket nobody
accepts from: the kernel completes every connection, so counting them counts the tries."""

from __future__ import annotations

import socket

import pytest

from swapadmin.health.models import HealthEvent

from .smtp import deliver_in_a_process

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESSES = ["a@example.com", "b@example.com", "c@example.com"]


def connections_made(silent: socket.socket) -> int:
    silent.setblocking(False)
    count = 0
    while True:
        try:
            conn, _ = silent.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def test_the_silent_server_is_tried_once_and_every_address_fails(host_row):
    event = HealthEvent.objects.create(
        host=host_row, backend_name="swap0", from_status="ok", to_status="warn", message="91%"
    )
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        env = {
            "EMAIL_URL": f"smtp://127.0.0.1:{silent.getsockname()[1]}/?timeout=1",
            "SWAPADMIN_ALERT_EMAILS": ",".join(ADDRESSES),
        }
        done = deliver_in_a_process(event.pk, env)
        assert done.returncode == 0, done.stderr
        tries = connections_made(silent)
    assert tries == 1
    event.refresh_from_db()
    assert event.delivery == "failed"
    for address in ADDRESSES:
        assert "timed out" in event.deliveries[f"email:{address}"]["error"]
