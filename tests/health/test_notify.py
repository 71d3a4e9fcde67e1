"""Notifications: a JSON POST to a real HTTP server on loopback, retried with back-off when
it fails, and mail through Django's email backend (the locmem outbox)."""

from __future__ import annotations

import pytest
from django.core import mail

from swapadmin.health import notify
from swapadmin.health.models import AlertChannel, HealthEvent
from swapadmin.health.tasks import notify_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(host_row) -> HealthEvent:
    from swapadmin.core.models import Backend
    from swapadmin.health.models import CheckResult

    backend = Backend.objects.create(host=host_row, kind="file", name="swap0", params={})
    result = CheckResult.objects.create(
        host=host_row,
        backend=backend,
        status="fail",
        findings=[{"check": "drift", "status": "fail", "message": "not active", "value": None}],
    )
    return HealthEvent.objects.create(
        host=host_row,
        backend=backend,
        backend_name="swap0",
        from_status="ok",
        to_status="fail",
        message="not active",
        result=result,
    )


@pytest.fixture
def quiet_settings(settings):
    settings.SWAPADMIN_WEBHOOK_URL = None
    settings.SWAPADMIN_ALERT_EMAILS = []
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings


def test_it_posts_the_event_as_json(event, hook_factory, quiet_settings):
    hook = hook_factory([200])
    quiet_settings.SWAPADMIN_WEBHOOK_URL = hook.url

    notify_event.apply(args=[event.pk])

    assert len(hook.bodies) == 1
    body = hook.bodies[0]
    assert body["event"] == str(event.uuid)
    assert (body["host"], body["backend"], body["from"], body["to"]) == (
        "testhost",
        "swap0",
        "ok",
        "fail",
    )
    assert body["backend_uuid"] == str(event.backend.uuid)
    assert body["findings"][0]["check"] == "drift"
    assert hook.headers[0]["Content-Type"] == "application/json"
    event.refresh_from_db()
    assert event.delivery == "delivered"
    assert event.notified_at is not None


def test_a_failure_whose_words_hold_a_nul_is_recorded(event, hook_factory, quiet_settings):
    """The server's reason phrase is its own text: a NUL in it failed the write of the
    deliveries (JSON, which PostgreSQL keeps no NUL in), so the round's record was lost
    and the event stayed pending with no attempt counted (review 177/1)."""
    hook = hook_factory([500], reason="bad\x00gateway")
    AlertChannel.objects.create(kind="webhook", target=hook.url)

    assert len(notify.deliver(event.pk, final=True)) == 1

    event.refresh_from_db()
    (entry,) = event.deliveries.values()
    assert entry["state"] == "failed"
    assert entry["error"] == f"{hook.url} answered 500 bad\\x00gateway"
    assert event.delivery_attempts == 1


def test_it_retries_a_webhook_that_fails_first(event, hook_factory, quiet_settings):
    hook = hook_factory([500, 200])
    AlertChannel.objects.create(kind="webhook", target=hook.url)

    # apply() runs the task here and its retries at once (Celery's eager retry).
    notify_event.apply(args=[event.pk])

    assert len(hook.bodies) == 2
    assert hook.bodies[0] == hook.bodies[1]
    event.refresh_from_db()
    assert event.delivery == "delivered"
    entry = event.deliveries[f"webhook:{hook.url}"]
    assert (entry["state"], entry["attempts"], entry["error"]) == ("delivered", 2, "")


def test_it_gives_up_after_the_last_retry(event, hook_factory, quiet_settings):
    hook = hook_factory([503])
    quiet_settings.SWAPADMIN_WEBHOOK_URL = hook.url
    quiet_settings.SWAPADMIN_WEBHOOK_MAX_RETRIES = 2

    notify_event.apply(args=[event.pk])

    assert len(hook.bodies) == 3  # the first try and two retries
    event.refresh_from_db()
    assert event.delivery == "failed"
    assert "503" in event.deliveries[f"webhook:{hook.url}"]["error"]


def test_a_retry_repeats_only_what_failed(event, hook_factory, quiet_settings):
    good, bad = hook_factory([200]), hook_factory([500, 200])
    AlertChannel.objects.create(kind="webhook", target=good.url)
    AlertChannel.objects.create(kind="webhook", target=bad.url)

    assert notify.deliver(event.pk) == [f"webhook:{bad.url}"]
    event.refresh_from_db()
    assert event.delivery == "pending"
    assert notify.deliver(event.pk) == []

    assert (len(good.bodies), len(bad.bodies)) == (1, 2)
    event.refresh_from_db()
    assert event.delivery == "delivered"


def test_an_unreachable_webhook_is_a_failed_delivery(event, hook_factory, quiet_settings):
    hook = hook_factory([200])
    url = hook.url
    hook.close()  # nothing listens there any more
    quiet_settings.SWAPADMIN_WEBHOOK_URL = url
    failed = notify.deliver(event.pk)
    assert failed == [f"webhook:{url}"]
    event.refresh_from_db()
    assert "could not be reached" in event.deliveries[f"webhook:{url}"]["error"]


def test_the_back_off_doubles():
    assert [notify.retry_delay(n) for n in range(4)] == [10.0, 20.0, 40.0, 80.0]


def test_it_mails_the_settings_addresses_and_the_channels(event, quiet_settings):
    quiet_settings.SWAPADMIN_ALERT_EMAILS = ["ops@example.com"]
    AlertChannel.objects.create(kind="email", target="oncall@example.com")
    AlertChannel.objects.create(kind="email", target="off@example.com", enabled=False)

    notify_event.apply(args=[event.pk])

    assert sorted(m.to[0] for m in mail.outbox) == ["oncall@example.com", "ops@example.com"]
    message = mail.outbox[0]
    assert message.subject == "[swapadmin] testhost/swap0 is fail"
    assert "ok -> fail" in message.body
    assert "[fail] drift: not active" in message.body
    event.refresh_from_db()
    assert event.delivery == "delivered"


def test_with_no_channel_nothing_is_pending(event, quiet_settings):
    notify_event.apply(args=[event.pk])
    event.refresh_from_db()
    assert event.delivery == "none"


def test_a_channel_target_is_validated():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        AlertChannel(kind="webhook", target="not a url").full_clean()
    with pytest.raises(ValidationError):
        AlertChannel(kind="email", target="nobody").full_clean()
    AlertChannel(kind="email", target="ops@example.com").full_clean()
