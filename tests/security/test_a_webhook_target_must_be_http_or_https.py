"""Only http and https webhooks: a file:, ftp: or other target is refused where it is
configured (the setting at start, the alert channel form in the admin), again at send (a
row written past the form), and a redirect is never followed to another target. A target
that does not answer is given up after the timeout."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swapadmin.core.models import AuditEvent
from swapadmin.health import notify, webhook
from swapadmin.health.models import AlertChannel

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
NOT_HTTP = ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/", "data:,x"]


@pytest.fixture
def quiet(settings):
    settings.SWAPADMIN_WEBHOOK_URL = None
    settings.SWAPADMIN_ALERT_EMAILS = []
    settings.SWAPADMIN_WEBHOOK_MAX_RETRIES = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


def start_with(**env: str) -> subprocess.CompletedProcess[str]:
    """Load the settings in a fresh interpreter, as a start does."""
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "swapadmin.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_setting_refuses_a_file_url_at_start():
    done = start_with(SWAPADMIN_WEBHOOK_URL="file:///etc/passwd")
    assert done.returncode != 0
    assert (
        "SWAPADMIN_WEBHOOK_URL: only http:// and https:// webhooks are sent; "
        "'file:///etc/passwd' has file:"
    ) in done.stderr
    assert start_with(SWAPADMIN_WEBHOOK_URL="https://hooks.example.com/x").returncode == 0


@pytest.mark.parametrize("target", NOT_HTTP)
def test_the_admin_form_refuses_it_and_adds_nothing(client, alice, quiet, target):
    client.force_login(alice)
    r = client.post(
        "/admin/health/alertchannel/add/", {"name": "x", "kind": "webhook", "target": target}
    )
    assert r.status_code == 200  # the form again, with the error
    assert "only http:// and https:// webhooks are sent" in r.content.decode()
    assert not AlertChannel.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="alert-channel").exists()


def test_the_admin_form_takes_an_https_url_and_audits_it(client, alice, quiet):
    client.force_login(alice)
    target = "https://hooks.example.com/swap"
    r = client.post(
        "/admin/health/alertchannel/add/", {"name": "ops", "kind": "webhook", "target": target}
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    channel = AlertChannel.objects.get()
    assert channel.target == target
    [audit] = AuditEvent.objects.filter(action="alert-channel-added")
    assert (audit.actor, audit.detail["target"], audit.outcome) == (alice, target, "ok")


@pytest.mark.parametrize("target", NOT_HTTP)
def test_a_row_written_past_the_form_is_refused_at_send(event, quiet, target):
    AlertChannel.objects.create(kind="webhook", target=target)

    failed = notify.deliver(event.pk, final=True)

    assert failed == [f"webhook:{target}"]
    event.refresh_from_db()
    assert event.delivery == "failed"
    assert (
        "only http:// and https:// webhooks are sent"
        in (event.deliveries[f"webhook:{target}"]["error"])
    )


def test_the_child_refuses_it_too():
    # The sender's own check, for whatever reaches it without the parent's.
    with pytest.raises(webhook.WebhookError, match="only http:// and https://"):
        webhook.post("file:///etc/passwd", b"{}", 1.0)


def test_a_redirect_is_not_followed(event, quiet, hook):
    hook.location = f"{hook.base}/elsewhere"
    quiet.SWAPADMIN_WEBHOOK_URL = f"{hook.base}/redirect"

    notify.deliver(event.pk, final=True)

    assert [r.path for r in hook.received] == ["/redirect"]  # /elsewhere never asked
    event.refresh_from_db()
    error = event.deliveries[f"webhook:{hook.base}/redirect"]["error"]
    assert "answered 302" in error and "redirects are not followed" in error


def test_a_silent_target_is_given_up_after_the_timeout(event, quiet):
    quiet.SWAPADMIN_WEBHOOK_TIMEOUT_SECONDS = 1.0
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        quiet.SWAPADMIN_WEBHOOK_URL = url
        started = time.monotonic()
        notify.deliver(event.pk, final=True)
        took = time.monotonic() - started
    event.refresh_from_db()
    assert "timed out" in event.deliveries[f"webhook:{url}"]["error"]
    assert 1.0 <= took < 1.0 + webhook.START_GRACE_SECONDS
