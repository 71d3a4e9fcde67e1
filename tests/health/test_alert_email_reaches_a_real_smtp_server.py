"""A health event raised by a real check reaches a real SMTP server on loopback: the control
worker, configured by EMAIL_URL in its environment and nothing else, mails each address of
SWAPADMIN_ALERT_EMAILS and of the enabled channels, from DEFAULT_FROM_EMAIL, with the
event's subject and body, and records the event as delivered."""

from __future__ import annotations

import os

import pytest

from backends import PAGE_SIZE
from swapadmin.health.checks import run_backend_check
from swapadmin.health.models import AlertChannel, HealthEvent
from tests.faults.own_servers import celery_sends_to, own_redis
from tests.fixtures.workers import wait_until

from .conftest import check_job
from .smtp import smtp_server

pytestmark = [pytest.mark.root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def damage_header(path: str) -> None:
    # The end of the first page holds the swap signature: a check finds the header gone.
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, b"\0" * 10, PAGE_SIZE - 10)
        os.fsync(fd)
    finally:
        os.close(fd)


def test_a_failing_check_is_mailed_through_the_configured_server(
    start_worker, scratch, make_file_backend
):
    AlertChannel.objects.create(kind="email", target="oncall@example.com")
    AlertChannel.objects.create(kind="email", target="nobody@example.com", enabled=False)
    backend = make_file_backend()
    damage_header(backend.params["path"])

    # Our own broker: the shared Redis's control queue is served by other runs' workers.
    with smtp_server() as smtp, own_redis(scratch) as broker, celery_sends_to(broker.url):
        w = start_worker(
            broker_url=broker.url,
            wait=False,
            env={
                "SWAPADMIN_WORKER_QUEUES": "control",
                "EMAIL_URL": f"smtp://{smtp.host}:{smtp.port}",
                "SWAPADMIN_ALERT_EMAILS": "ops@example.com",
                "DEFAULT_FROM_EMAIL": "swapadmin@fleet.example.com",
            },
        )
        run_backend_check(check_job(backend))  # raises the event, queued on commit
        event = HealthEvent.objects.get(backend=backend)
        mails = smtp.inbox.wait_for(2, timeout=60)
        wait_until(
            lambda: HealthEvent.objects.get(pk=event.pk).delivery == "delivered",
            20,
            f"the event to be recorded as delivered; worker log:\n{w.log()[-3000:]}",
        )

    assert sorted(r for m in mails for r in m.rcpt_tos) == ["oncall@example.com", "ops@example.com"]
    for mail in mails:
        assert len(mail.rcpt_tos) == 1  # one mail per address: no one sees the others
        assert mail.mail_from == "swapadmin@fleet.example.com"
        assert mail.message["Subject"] == "[swapadmin] testhost/swap0 is fail"
        assert mail.message["To"] == mail.rcpt_tos[0]
        body = mail.message.get_payload(decode=True).decode()
        assert "Host: testhost" in body and "Backend: swap0" in body
        assert "Status: unknown -> fail" in body
        assert event.message in body
        assert "Findings:" in body and "swap header" in body
    event.refresh_from_db()
    assert {t: d["state"] for t, d in event.deliveries.items()} == {
        "email:ops@example.com": "delivered",
        "email:oncall@example.com": "delivered",
    }
    assert event.notified_at is not None
