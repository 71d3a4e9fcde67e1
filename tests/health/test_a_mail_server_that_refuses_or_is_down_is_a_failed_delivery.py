"""A mail server that refuses the alert (550) or does not answer at all is a delivery
recorded as pending (retried) and then failed, with the server's words, never a crash of
the task. Delivered by ``manage.py`` with the mail settings of its own environment, to a
real SMTP server on loopback."""

from __future__ import annotations

import pytest

from swapadmin.health.models import HealthEvent

from .smtp import deliver_in_a_process, free_port, smtp_server

pytestmark = pytest.mark.django_db(transaction=True)

TARGET = "email:ops@example.com"


@pytest.fixture
def event(host_row) -> HealthEvent:
    return HealthEvent.objects.create(
        host=host_row,
        backend_name="swap0",
        from_status="ok",
        to_status="fail",
        message="the swap header is damaged",
        delivery=HealthEvent.Delivery.PENDING,
    )


def test_a_refused_recipient_is_retried_then_failed(event):
    with smtp_server(refuse="550 5.1.1 <ops@example.com>: no such mailbox") as smtp:
        env = {"EMAIL_URL": f"smtp://{smtp.host}:{smtp.port}",
               "SWAPADMIN_ALERT_EMAILS": "ops@example.com"}  # fmt: skip

        first = deliver_in_a_process(event.pk, env, final=False)
        assert first.returncode == 0, first.stderr
        event.refresh_from_db()
        assert event.delivery == "pending"  # the task retries it later

        last = deliver_in_a_process(event.pk, env, final=True)
        assert last.returncode == 0, last.stderr
        assert last.stdout.strip().splitlines()[-1] == f"[{TARGET!r}]"

    assert smtp.inbox.refused == ["ops@example.com", "ops@example.com"]  # it really asked
    assert smtp.inbox.mails == []
    event.refresh_from_db()
    assert event.delivery == "failed"
    entry = event.deliveries[TARGET]
    assert (entry["state"], entry["attempts"]) == ("failed", 2)
    assert "refused the recipient: 550 5.1.1 <ops@example.com>: no such mailbox" in entry["error"]


def test_a_server_that_is_down_is_a_failed_delivery(event):
    port = free_port()  # nothing listens there
    done = deliver_in_a_process(
        event.pk,
        {
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
            "SWAPADMIN_ALERT_EMAILS": "ops@example.com",
        },
    )
    assert done.returncode == 0, done.stderr
    event.refresh_from_db()
    assert event.delivery == "failed"
    error = event.deliveries[TARGET]["error"]
    assert f"the mail server 127.0.0.1:{port} could not be reached: Connection refused" in error
