"""A server that refuses one address and takes the others: the refused one is a failed
delivery with the server's words, the others are mailed in the same round (the round
shares one connection, and a refusal must not end it for the rest), and the retry mails
only the refused one."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from swapadmin.health.models import HealthEvent

from .smtp import deliver_in_a_process, free_port

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESSES = ["a@example.com", "nobody@example.com", "c@example.com"]


class Picky:
    def __init__(self) -> None:
        self.refuse = {"nobody@example.com"}
        self.mails: list[list[str]] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:  # fmt: skip
        if address in self.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.mails.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def test_the_others_are_mailed_and_only_the_refused_one_again(host_row):
    event = HealthEvent.objects.create(
        host=host_row, backend_name="swap0", from_status="ok", to_status="warn", message="91%"
    )
    picky = Picky()
    controller = Controller(picky, hostname="127.0.0.1", port=free_port())
    controller.start()
    env = {
        "EMAIL_URL": f"smtp://127.0.0.1:{controller.port}",
        "SWAPADMIN_ALERT_EMAILS": ",".join(ADDRESSES),
    }
    try:
        first = deliver_in_a_process(event.pk, env, final=False)
        assert first.returncode == 0, first.stderr
        # deliver() returned: every mail it sent was accepted (250) before it went on.
        assert picky.mails == [["a@example.com"], ["c@example.com"]]
        event.refresh_from_db()
        assert event.delivery == "pending"
        refused = event.deliveries["email:nobody@example.com"]
        assert "refused the recipient: 550 5.1.1 no such user here" in refused["error"]

        picky.refuse.clear()
        second = deliver_in_a_process(event.pk, env, final=True)
        assert second.returncode == 0, second.stderr
    finally:
        controller.stop()
    assert picky.mails == [["a@example.com"], ["c@example.com"], ["nobody@example.com"]]
    event.refresh_from_db()
    assert event.delivery == "delivered"
