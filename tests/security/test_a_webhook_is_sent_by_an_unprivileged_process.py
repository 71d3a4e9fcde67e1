"""Alert webhooks are sent by a child process as an unprivileged user with no secrets in
its environment, even when the task runs in a root worker holding the database password.

The receiver is a real HTTP server on loopback; it finds the sending socket in
/proc/net/tcp and the process that holds it, and reads that process's uids and environment
itself (see hookserver). The test process is root, like a host's worker.
"""

from __future__ import annotations

import logging
import os
import pwd

import pytest

from swapadmin.health.tasks import notify_event

pytestmark = pytest.mark.django_db

#: What a worker's environment holds that a webhook sender must not.
SECRETS = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"}


@pytest.fixture
def root_with_secrets(settings, monkeypatch):
    """The test process as a host's worker is: root, secrets in its environment."""
    if os.geteuid() != 0:
        pytest.skip("needs root: the point is a root worker's webhook is not sent as root")
    for name in SECRETS:
        monkeypatch.setenv(name, f"{name.lower()}-not-for-webhooks")
    settings.SWAPADMIN_ALERT_EMAILS = []
    settings.SWAPADMIN_WEBHOOK_USER = "nobody"
    return settings


def test_it_arrives_from_nobody_with_no_secrets(hook, event, root_with_secrets, caplog):
    root_with_secrets.SWAPADMIN_WEBHOOK_URL = f"{hook.base}/ok"
    nobody = pwd.getpwnam("nobody")

    with caplog.at_level(logging.INFO, logger="swapadmin.health.notify"):
        notify_event.apply(args=[event.pk])

    assert hook.arrived.is_set()
    [got] = hook.received
    assert b'"to": "fail"' in got.body
    sender = got.sender
    assert sender.socket_uid == nobody.pw_uid != 0
    assert sender.pid is not None and sender.pid != os.getpid()
    assert set(sender.uids) == {nobody.pw_uid}  # real, effective, saved, filesystem
    assert sender.groups == ()  # no supplementary group kept from root
    assert not (SECRETS & sender.env_names), sender.env_names
    # ... and the worker's log says whom it was sent as.
    assert f"sent as uid {nobody.pw_uid}" in caplog.text
    event.refresh_from_db()
    assert event.delivery == "delivered"


def test_it_is_not_sent_as_root_when_the_user_is_missing(hook, event, root_with_secrets):
    root_with_secrets.SWAPADMIN_WEBHOOK_URL = f"{hook.base}/ok"
    root_with_secrets.SWAPADMIN_WEBHOOK_USER = "no-such-user-here"
    root_with_secrets.SWAPADMIN_WEBHOOK_MAX_RETRIES = 0

    notify_event.apply(args=[event.pk])

    assert hook.received == []
    event.refresh_from_db()
    assert event.delivery == "failed"
    error = event.deliveries[f"webhook:{hook.base}/ok"]["error"]
    assert "no user 'no-such-user-here'" in error and "never sent as root" in error


def test_a_root_user_is_refused_as_the_sender(hook, event, root_with_secrets):
    root_with_secrets.SWAPADMIN_WEBHOOK_URL = f"{hook.base}/ok"
    root_with_secrets.SWAPADMIN_WEBHOOK_USER = "root"
    root_with_secrets.SWAPADMIN_WEBHOOK_MAX_RETRIES = 0

    notify_event.apply(args=[event.pk])

    assert hook.received == []
    event.refresh_from_db()
    assert "is root" in event.deliveries[f"webhook:{hook.base}/ok"]["error"]
