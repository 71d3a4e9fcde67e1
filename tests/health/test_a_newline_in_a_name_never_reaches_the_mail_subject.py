"""A host's or backend's name is put in the alert's Subject. One holding CR LF (a name
written to the database by a worker, an adopted area's path) must neither add a header
(Bcc to a stranger) nor stop the alert: Django refuses such a Subject outright
(BadHeaderError), so the event was never mailed, retry after retry. Sent to a real SMTP
server on loopback; the Subject arrives on one line and nobody else is mailed."""

from __future__ import annotations

import pytest

from swapadmin.health.models import HealthEvent

from .smtp import deliver_in_a_process, smtp_server

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_alert_arrives_with_its_subject_on_one_line(host_row):
    event = HealthEvent.objects.create(
        host=host_row,
        backend_name="swap0\r\nBcc: thief@evil.example\r\nX-Injected: yes",
        from_status="ok",
        to_status="fail",
        message="swapon failed",
    )
    with smtp_server() as smtp:
        env = {
            "EMAIL_URL": f"smtp://{smtp.host}:{smtp.port}",
            "SWAPADMIN_ALERT_EMAILS": "ops@example.com",
        }
        done = deliver_in_a_process(event.pk, env)
        assert done.returncode == 0, done.stderr
        event.refresh_from_db()
        assert event.delivery == "delivered", event.deliveries
        [mail] = smtp.inbox.wait_for(1)
    assert mail.rcpt_tos == ["ops@example.com"]
    unfolded = mail.message["Subject"].replace("\r\n", "")  # a long header is folded
    assert unfolded == (
        "[swapadmin] testhost/swap0 Bcc: thief@evil.example X-Injected: yes is fail"
    )
    assert mail.message["Bcc"] is None and mail.message["X-Injected"] is None
