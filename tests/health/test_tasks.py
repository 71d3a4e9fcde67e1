"""The beat tasks: the fan-out of checks to every online host, and the offline sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from swapadmin.core.models import Backend, Host, Job
from swapadmin.health.models import CheckResult, HealthEvent, HostHealth
from swapadmin.health.tasks import mark_offline_hosts, prune_results, schedule_checks

pytestmark = pytest.mark.django_db


def host(name: str, *, seconds_ago: float | None) -> Host:
    beat = None if seconds_ago is None else timezone.now() - timedelta(seconds=seconds_ago)
    return Host.objects.create(name=name, last_heartbeat=beat)


def backend(h: Host, name: str, desired: str = "inactive") -> Backend:
    return Backend.objects.create(host=h, kind="file", name=name, desired_state=desired)


def test_it_queues_a_check_for_each_backend_of_each_online_host():
    up, down = host("up", seconds_ago=1), host("down", seconds_ago=3600)
    a, b = backend(up, "a", "active"), backend(up, "b")
    backend(down, "c")
    backend(up, "gone", "absent")

    assert schedule_checks() == 2

    jobs = Job.objects.filter(kind="check")
    assert sorted(j.backend_name for j in jobs) == ["a", "b"]
    assert {j.via for j in jobs} == {"schedule"}
    assert {j.host.queue for j in jobs} == {"host.up"}
    assert {j.backend_id for j in jobs} == {a.pk, b.pk}


def test_it_does_not_pile_checks_on_a_backend_whose_last_one_has_not_run():
    up = host("up", seconds_ago=1)
    backend(up, "a")
    assert schedule_checks() == 1
    assert schedule_checks() == 0
    Job.objects.filter(kind="check").update(state=Job.State.SUCCEEDED)
    assert schedule_checks() == 1


def test_it_prunes_old_results_but_keeps_the_current_ones(settings):
    settings.SWAPADMIN_HEALTH_RETENTION_DAYS = 1
    up = host("up", seconds_ago=1)
    old = timezone.now() - timedelta(days=2)
    gone = CheckResult.objects.create(host=up, status="ok", at=old)
    current = CheckResult.objects.create(host=up, status="ok", at=old)
    HostHealth.objects.create(host=up, status="ok", last_result=current)
    recent = CheckResult.objects.create(host=up, status="ok")
    assert prune_results() == 1
    assert set(CheckResult.objects.values_list("pk", flat=True)) == {current.pk, recent.pk}
    assert not CheckResult.objects.filter(pk=gone.pk).exists()


def test_a_host_that_stops_heartbeating_raises_one_offline_event(settings):
    settings.SWAPADMIN_OFFLINE_AFTER_SECONDS = 45
    h = host("h1", seconds_ago=1)
    mark_offline_hosts()  # first look: records online, nothing to say
    assert not HealthEvent.objects.exists()
    assert HostHealth.objects.get(host=h).online is True

    Host.objects.filter(pk=h.pk).update(last_heartbeat=timezone.now() - timedelta(seconds=60))
    assert mark_offline_hosts() == 1
    assert mark_offline_hosts() == 0
    event = HealthEvent.objects.get()
    assert (event.kind, event.from_status, event.to_status) == ("connectivity", "online", "offline")
    assert "stopped sending heartbeats" in event.message

    Host.objects.filter(pk=h.pk).update(last_heartbeat=timezone.now())
    assert mark_offline_hosts() == 1
    back = HealthEvent.objects.order_by("-at").first()
    assert (back.from_status, back.to_status) == ("offline", "online")


def test_the_schedule_is_in_the_database_for_beat():
    # Created by the migration; tests that flush the database can make it again.
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from swapadmin.health.schedule import ensure_schedule

    ensure_schedule(IntervalSchedule, PeriodicTask)
    checks = PeriodicTask.objects.get(task="swapadmin.health.schedule_checks")
    assert (checks.interval.every, checks.interval.period, checks.queue) == (
        1,
        "minutes",
        "control",
    )
    assert checks.enabled
    assert PeriodicTask.objects.filter(task="swapadmin.health.mark_offline_hosts").exists()
