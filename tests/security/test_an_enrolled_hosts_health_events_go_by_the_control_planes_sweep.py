"""An enrolled host's broker user reaches its own queue only, so its worker does not publish
a health event's notification to the control queue: it would be refused, and logged as a
refusal on the broker and in the worker's log at every event (CI saw one when memory
pressure raised an event in the middle of the enrolled worker's test). The event stays
pending, and the control plane's sweep, which may publish there, sends it."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from swapadmin.core.models import Host
from swapadmin.health.checks import raise_event
from swapadmin.health.models import HealthEvent
from swapadmin.health.notify import resend_pending
from tests.faults.own_servers import celery_sends_to

from .enrolled import Enrolled, enrolled  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_its_event_waits_for_the_sweep_and_nothing_is_refused(
    enrolled: Enrolled,  # noqa: F811
    settings,
    caplog,
) -> None:
    a = enrolled.host()
    admin = enrolled.admin()
    settings.SWAPADMIN_BROKER_OWN_QUEUE_ONLY = True  # as its worker.env says
    with (
        celery_sends_to(a.env["REDIS_URL"]),
        caplog.at_level(logging.INFO),
        transaction.atomic(),
    ):
        event = raise_event(
            host=Host.objects.get(pk=a.host.pk), backend=None, from_status="ok",
            to_status="warn", message="memory pressure",
        )  # fmt: skip
    assert "left for the control plane" in caplog.text
    assert admin.acl_log() == [], "the host's worker tried what its broker user may not"
    assert admin.llen("control") == 0
    event.refresh_from_db()
    assert event.delivery == HealthEvent.Delivery.PENDING and event.delivery_attempts == 0

    # The control plane's sweep (its own broker user) queues it.
    settings.SWAPADMIN_BROKER_OWN_QUEUE_ONLY = False
    with celery_sends_to(enrolled.broker.url), transaction.atomic():
        assert resend_pending(older_than_seconds=0) == 1
    assert admin.llen("control") == 1
