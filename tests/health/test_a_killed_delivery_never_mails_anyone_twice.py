"""A delivery round stopped half-way (the worker killed, or its task's time limit reached
while a mail server hangs) leaves written who has had the event, so the next round mails
only the others: the results were written once, at the end of the round, and the retry
mailed everyone again. While the round waits on the server, the database sees no open
transaction from it (PGAPPNAME names the process's connections).

The mail server is aiosmtpd on loopback: it takes first@ and hangs on RCPT TO second@
until told to take it too."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import uuid
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from swapadmin.health.models import HealthEvent
from tests.fixtures import workers

from .smtp import deliver_in_a_process, free_port

pytestmark = pytest.mark.django_db(transaction=True)

FIRST, SECOND = "first@example.com", "second@example.com"


class Stalling:
    """Keeps every mail; while ``stall`` is set, RCPT TO second@ is never answered."""

    def __init__(self) -> None:
        self.stall = True
        self.mails: list[list[str]] = []
        self.stalled = False
        self.changed = threading.Condition()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:  # fmt: skip
        if address == SECOND and self.stall:
            with self.changed:
                self.stalled = True
                self.changed.notify_all()
            await asyncio.Event().wait()  # for ever: the client is killed meanwhile
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.changed:
            self.mails.append(list(envelope.rcpt_tos))
            self.changed.notify_all()
        return "250 Message accepted for delivery"

    def wait(self, predicate: Any, what: str) -> None:
        with self.changed:
            assert self.changed.wait_for(predicate, 30), f"never {what}"


def delivering(event_id: int, env: dict[str, str]) -> subprocess.Popen[str]:
    """``notify.deliver`` running in a process of its own, to be killed half-way."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    database = workers.test_database_url()
    full.update(DJANGO_SETTINGS_MODULE="swapadmin.settings", DATABASE_URL=database,
                SWAPADMIN_WEBHOOK_URL="", **env)  # fmt: skip
    code = f"from swapadmin.health.notify import deliver; deliver({event_id})"
    return subprocess.Popen([sys.executable, "manage.py", "shell", "-c", code], cwd=workers.REPO,
                            env=full, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip


def session_states(app: str) -> list[str]:
    query = "SELECT state FROM pg_stat_activity WHERE application_name = %s"
    return [state for (state,) in workers.activity(query, (app,))]


def test_the_next_round_mails_only_who_had_nothing(host_row):
    event = HealthEvent.objects.create(
        host=host_row, backend_name="swap0", from_status="ok", to_status="fail", message="gone"
    )
    server = Stalling()
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    app = f"swapadmin-test-{uuid.uuid4().hex[:8]}"
    env = {
        "EMAIL_URL": f"smtp://127.0.0.1:{controller.port}/?timeout=60",
        "SWAPADMIN_ALERT_EMAILS": f"{FIRST},{SECOND}",
        "PGAPPNAME": app,
    }
    try:
        process = delivering(event.pk, env)
        try:
            server.wait(lambda: server.mails and server.stalled, "reached second@")
            assert session_states(app) == ["idle"]  # connected, and in no transaction
            event.refresh_from_db()
            assert event.deliveries[f"email:{FIRST}"]["state"] == "delivered"
        finally:
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=30)

        server.stall = False
        done = deliver_in_a_process(event.pk, env)
        assert done.returncode == 0, done.stderr
        server.wait(lambda: len(server.mails) >= 2, "mailed second@")
    finally:
        controller.stop()
    assert server.mails == [[FIRST], [SECOND]]
    event.refresh_from_db()
    assert event.delivery == "delivered"
