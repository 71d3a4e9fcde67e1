"""An admin who means "keep for ever" may write a huge number of days (1e7, inf) rather
than 0. ``timedelta`` cannot hold it: the retention task must keep every row then, not
fail on its first table, which would leave every table after it unpruned for good."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from swapadmin.core.models import AuditEvent, Job
from swapadmin.core.tasks import retention
from swapadmin.health.models import CheckResult, HealthEvent

pytestmark = pytest.mark.django_db

SETTINGS = (
    "SWAPADMIN_JOB_RETENTION_DAYS",
    "SWAPADMIN_AUDIT_RETENTION_DAYS",
    "SWAPADMIN_HEALTH_EVENT_RETENTION_DAYS",
    "SWAPADMIN_HEALTH_RETENTION_DAYS",
)


def very_old_rows(host) -> None:
    """Two of each kind of row, 5,000 days old (two jobs: the latest of a kind is kept)."""
    at = timezone.now() - timedelta(days=5000)
    for _ in range(2):
        j = Job.objects.create(host=host, kind="tune", state=Job.State.SUCCEEDED)
        Job.objects.filter(pk=j.pk).update(queued_at=at, finished_at=at)
        a = AuditEvent.objects.create(
            actor_name="alice", via="api", action="tune", object_type="host",
            object_repr=host.name, host=host, outcome="ok",
        )  # fmt: skip
        AuditEvent.objects.filter(pk=a.pk).update(at=at)
        r = CheckResult.objects.create(host=host, status="ok")
        CheckResult.objects.filter(pk=r.pk).update(at=at)
        e = HealthEvent.objects.create(host=host, from_status="ok", to_status="warn",
                                       delivery=HealthEvent.Delivery.DELIVERED)  # fmt: skip
        HealthEvent.objects.filter(pk=e.pk).update(at=at)


def counts() -> tuple[int, int, int, int]:
    return (
        Job.objects.count(),
        AuditEvent.objects.count(),
        HealthEvent.objects.count(),
        CheckResult.objects.count(),
    )


@pytest.mark.parametrize("days", [1e7, float("inf"), 3_000_000.5])
def test_a_huge_retention_keeps_every_row(host_row, settings, days):
    very_old_rows(host_row)
    for name in SETTINGS:
        setattr(settings, name, days)
    done = retention()
    assert (done["jobs"], done["audit_events"]) == (0, 0)
    assert (done["health_events"], done["check_results"]) == (0, 0)
    assert counts() == (2, 2, 2, 2)


def test_a_fraction_of_a_day_is_a_retention_like_any_other(host_row, settings):
    very_old_rows(host_row)
    for name in SETTINGS:
        setattr(settings, name, 0.5)
    done = retention()
    # Every row goes but the latest tune job (the latest of its kind is always kept).
    assert (done["jobs"], done["audit_events"]) == (1, 2)
    assert (done["health_events"], done["check_results"]) == (2, 2)
    assert counts() == (1, 0, 0, 0)
