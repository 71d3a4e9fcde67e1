"""An alert reaches a relay that demands STARTTLS and a login: the URL names the relay and
the user, the password comes from a file (EMAIL_HOST_PASSWORD_FILE), and the relay's
certificate is checked, so a relay whose certificate is not trusted gets nothing (a failed
delivery), and neither does one refusing the password."""

from __future__ import annotations

import pytest

from swapadmin.health.models import HealthEvent

from .smtp import deliver_in_a_process, smtp_server

pytestmark = pytest.mark.django_db(transaction=True)

TARGET = "email:ops@example.com"


@pytest.fixture
def event(host_row) -> HealthEvent:
    return HealthEvent.objects.create(
        host=host_row,
        backend_name="swap0",
        from_status="ok",
        to_status="warn",
        message="swap is 91% full",
        delivery=HealthEvent.Delivery.PENDING,
    )


def relay_env(smtp, password_file) -> dict[str, str]:
    return {
        "EMAIL_URL": f"submission://alerts@{smtp.host}:{smtp.port}",
        "EMAIL_HOST_PASSWORD_FILE": str(password_file),
        "SWAPADMIN_ALERT_EMAILS": "ops@example.com",
    }


def test_it_sends_over_starttls_with_the_password_from_a_file(event, tmp_path):
    password = tmp_path / "smtp-password"
    password.write_text("s3cret\n")
    with smtp_server(starttls_in=tmp_path, login=("alerts", "s3cret")) as smtp:
        # The relay's own certificate as the trusted CA, as for a private relay.
        env = {**relay_env(smtp, password), "SSL_CERT_FILE": str(smtp.cert)}
        done = deliver_in_a_process(event.pk, env)
        assert done.returncode == 0, done.stderr
        [mail] = smtp.inbox.wait_for(1)
    assert mail.login == "alerts"
    assert mail.rcpt_tos == ["ops@example.com"]
    assert mail.message["Subject"] == "[swapadmin] testhost/swap0 is warn"
    event.refresh_from_db()
    assert event.delivery == "delivered"


def test_a_relay_with_an_untrusted_certificate_gets_nothing(event, tmp_path):
    password = tmp_path / "smtp-password"
    password.write_text("s3cret")
    with smtp_server(starttls_in=tmp_path, login=("alerts", "s3cret")) as smtp:
        done = deliver_in_a_process(event.pk, relay_env(smtp, password))
    assert done.returncode == 0, done.stderr
    assert smtp.inbox.mails == []
    event.refresh_from_db()
    assert event.delivery == "failed"
    assert "certificate verify failed" in event.deliveries[TARGET]["error"]


def test_a_refused_password_is_a_failed_delivery(event, tmp_path):
    password = tmp_path / "smtp-password"
    password.write_text("wrong")
    with smtp_server(starttls_in=tmp_path, login=("alerts", "s3cret")) as smtp:
        env = {**relay_env(smtp, password), "SSL_CERT_FILE": str(smtp.cert)}
        done = deliver_in_a_process(event.pk, env)
    assert done.returncode == 0, done.stderr
    assert smtp.inbox.mails == []
    event.refresh_from_db()
    assert event.delivery == "failed"
    assert "the mail server answered 535" in event.deliveries[TARGET]["error"]
