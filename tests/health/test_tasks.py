"""The beat tasks: the fan-out of rounds of checks to every online host (no Job rows), the
round's claim on the host's worker, and the offline sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from swapadmin.core.models import Backend, Host, Job
from swapadmin.health.models import CheckResult, HealthEvent, HostHealth
from swapadmin.health.tasks import check_host, mark_offline_hosts, prune_results, schedule_checks

pytestmark = pytest.mark.django_db


def host(name: str, *, seconds_ago: float | None) -> Host:
    beat = None if seconds_ago is None else timezone.now() - timedelta(seconds=seconds_ago)
    return Host.objects.create(name=name, last_heartbeat=beat)


def backend(h: Host, name: str, desired: str = "inactive") -> Backend:
    return Backend.objects.create(host=h, kind="file", name=name, desired_state=desired)


def test_it_asks_each_online_host_for_one_round_and_makes_no_job(
    django_capture_on_commit_callbacks,
):
    up, down = host("up", seconds_ago=1), host("down", seconds_ago=3600)
    host("bare", seconds_ago=1)  # no backend: its round checks the host itself
    backend(up, "a", "active"), backend(up, "b")
    backend(down, "c")

    with django_capture_on_commit_callbacks() as sent:
        assert schedule_checks() == 2  # one message per host, whatever its backends

    assert len(sent) == 2
    assert not Job.objects.exists()
    pending = HostHealth.objects.exclude(round_requested_at=None)
    assert set(pending.values_list("host__name", flat=True)) == {"up", "bare"}
    assert not HostHealth.objects.filter(host=down).exclude(round_requested_at=None).exists()


def test_it_does_not_pile_rounds_on_a_host_whose_last_one_has_not_started(
    django_capture_on_commit_callbacks,
):
    up = host("up", seconds_ago=1)
    backend(up, "a")
    with django_capture_on_commit_callbacks() as sent:
        assert schedule_checks() == 1
        assert schedule_checks() == 0
    assert len(sent) == 1
    # The worker claims the round (check_host): the next minute asks for the next one.
    HostHealth.objects.filter(host=up).update(round_requested_at=None)
    assert schedule_checks() == 1


def test_a_round_pending_too_long_on_an_idle_host_is_asked_again(settings):
    settings.SWAPADMIN_RESEND_AFTER_SECONDS = 60
    up = host("up", seconds_ago=1)
    assert schedule_checks() == 1
    HostHealth.objects.filter(host=up).update(
        round_requested_at=timezone.now() - timedelta(seconds=120)
    )
    running = Job.objects.create(kind="scan", host=up, state=Job.State.RUNNING)
    assert schedule_checks() == 0  # it may be waiting behind that job
    Job.objects.filter(pk=running.pk).update(state=Job.State.SUCCEEDED)
    assert schedule_checks() == 1  # idle and still not taken: its message was lost


def test_a_round_runs_once_however_many_messages_ask_for_it(settings):
    up = host("up", seconds_ago=1)
    settings.SWAPADMIN_HOST = "up"
    assert check_host(up.pk) == "nothing pending"
    schedule_checks()
    assert check_host(up.pk).startswith("checked 0 backend(s), host ")
    assert check_host(up.pk) == "nothing pending"
    result = CheckResult.objects.get(host=up)  # the host-level one, from the round
    assert (result.backend, result.job) == (None, None)
    assert HostHealth.objects.get(host=up).last_result == result
    assert not Job.objects.exists()


def test_a_round_for_another_host_is_refused(settings):
    up = host("up", seconds_ago=1)
    settings.SWAPADMIN_HOST = "somewhere-else"
    schedule_checks()
    assert check_host(up.pk) == "wrong-host"
    assert not CheckResult.objects.exists()
    assert HostHealth.objects.get(host=up).round_requested_at is not None  # still pending


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
