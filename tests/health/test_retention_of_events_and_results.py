"""The retention task also bounds the health tables: settled events past
SWAPADMIN_HEALTH_EVENT_RETENTION_DAYS go (a pending one waits for its delivery, whatever
its age), and check results past SWAPADMIN_HEALTH_RETENTION_DAYS, except the current ones
and those a kept event names."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from swapadmin.core.models import Backend
from swapadmin.core.tasks import retention
from swapadmin.health.models import BackendHealth, CheckResult, HealthEvent

pytestmark = pytest.mark.django_db


def ago(days: float):
    return timezone.now() - timedelta(days=days)


def result(host, backend, days: float) -> CheckResult:
    r = CheckResult.objects.create(host=host, backend=backend, status="ok")
    CheckResult.objects.filter(pk=r.pk).update(at=ago(days))
    return r


def event(host, delivery: str, days: float, named: CheckResult | None = None) -> HealthEvent:
    e = HealthEvent.objects.create(
        host=host, from_status="ok", to_status="warn", delivery=delivery, result=named
    )
    HealthEvent.objects.filter(pk=e.pk).update(at=ago(days))
    return e


def test_the_retention_task_deletes_old_settled_events_and_old_results(host_row, settings):
    settings.SWAPADMIN_HEALTH_EVENT_RETENTION_DAYS = 90
    settings.SWAPADMIN_HEALTH_RETENTION_DAYS = 14
    b = Backend.objects.create(host=host_row, kind="file", name="b0")
    old_results = [result(host_row, b, 15), result(host_row, None, 30)]
    current = result(host_row, b, 20)
    BackendHealth.objects.create(backend=b, status="ok", last_result=current)
    recent = result(host_row, b, 13)
    named_by_pending = result(host_row, b, 100)
    named_by_old = result(host_row, b, 100)

    old_events = [
        event(host_row, HealthEvent.Delivery.DELIVERED, 91, named_by_old),
        event(host_row, HealthEvent.Delivery.FAILED, 200),
        event(host_row, HealthEvent.Delivery.NONE, 91),
    ]
    pending = event(host_row, HealthEvent.Delivery.PENDING, 200, named_by_pending)
    young = event(host_row, HealthEvent.Delivery.DELIVERED, 89)

    done = retention()

    assert (done["health_events"], done["check_results"]) == (3, 3)
    assert set(HealthEvent.objects.values_list("pk", flat=True)) == {pending.pk, young.pk}
    kept = {current.pk, recent.pk, named_by_pending.pk}
    assert set(CheckResult.objects.values_list("pk", flat=True)) == kept
    assert not CheckResult.objects.filter(pk__in=[r.pk for r in old_results]).exists()
    assert not HealthEvent.objects.filter(pk__in=[e.pk for e in old_events]).exists()

    again = retention()
    assert (again["health_events"], again["check_results"], again["jobs"]) == (0, 0, 0)


def test_zero_days_keeps_health_rows_for_ever(host_row, settings):
    settings.SWAPADMIN_HEALTH_EVENT_RETENTION_DAYS = 0
    settings.SWAPADMIN_HEALTH_RETENTION_DAYS = 0
    result(host_row, None, 1000)
    event(host_row, HealthEvent.Delivery.DELIVERED, 1000)
    done = retention()
    assert (done["health_events"], done["check_results"]) == (0, 0)
