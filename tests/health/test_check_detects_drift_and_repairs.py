"""Drift: an area swapped off by hand is found, and with auto_repair the activate job is
queued as the schedule, with a back-off so a repair that keeps failing does not loop."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends import kernel
from swapadmin.core.models import AuditEvent, Backend, Job
from swapadmin.health.checks import run_backend_check
from swapadmin.health.models import BackendHealth

from .conftest import check_job, findings_by_check, swapoff_by_hand, swapon

pytestmark = [pytest.mark.root, pytest.mark.django_db]


def test_it_finds_an_area_swapped_off_by_hand(make_file_backend):
    backend = make_file_backend(desired=Backend.Desired.ACTIVE)
    swapon(backend)
    first = run_backend_check(check_job(backend))
    assert findings_by_check(first)["drift"]["status"] == "ok"
    assert first["status"] == "ok"

    swapoff_by_hand(backend.params["path"])
    result = run_backend_check(check_job(backend))

    drift = findings_by_check(result)["drift"]
    assert drift["status"] == "fail"
    assert drift["value"] == {"desired": "active", "observed": "inactive", "repair": "activate"}
    assert result["status"] == "fail"
    health = BackendHealth.objects.get(backend=backend)
    assert (health.status, health.summary) == ("fail", drift["message"])
    # Without auto_repair nothing is queued.
    assert "repair_job" not in result
    assert not Job.objects.filter(backend=backend).exclude(kind="check").exists()


def test_it_finds_an_area_active_that_should_not_be(make_file_backend):
    backend = make_file_backend(desired=Backend.Desired.INACTIVE, auto_repair=True)
    swapon(backend)
    result = run_backend_check(check_job(backend))
    drift = findings_by_check(result)["drift"]
    assert (drift["status"], drift["value"]["repair"]) == ("warn", "deactivate")
    job = Job.objects.get(uuid=result["repair_job"])
    assert job.kind == "deactivate"


def test_it_reports_a_priority_other_than_asked(make_file_backend):
    backend = make_file_backend(desired=Backend.Desired.ACTIVE, priority=77)
    kernel.swapon(backend.params["path"], priority=55)
    drift = findings_by_check(run_backend_check(check_job(backend)))["drift"]
    assert drift["status"] == "warn"
    assert (drift["value"]["priority"], drift["value"]["desired_priority"]) == (55, 77)


def test_auto_repair_queues_activate_with_back_off(make_file_backend, settings):
    settings.SWAPADMIN_HEALTH_REPAIR_BASE_SECONDS = 60
    backend = make_file_backend(desired=Backend.Desired.ACTIVE, auto_repair=True)
    # Never activated: the area is ready but not in /proc/swaps.

    result = run_backend_check(check_job(backend))

    job = Job.objects.get(uuid=result["repair_job"])
    assert (job.kind, job.via, job.state) == ("activate", "schedule", "queued")
    assert AuditEvent.objects.filter(action="activate", actor_name="schedule").exists()
    health = BackendHealth.objects.get(backend=backend)
    assert health.repair_attempts == 1
    assert health.last_repair_job == job
    wait = (health.next_repair_at - timezone.now()).total_seconds()
    assert 55 < wait <= 60

    # The repair is still queued: the next check queues nothing more.
    again = run_backend_check(check_job(backend))
    assert "repair_job" not in again
    assert Job.objects.filter(backend=backend, kind="activate").count() == 1

    # It failed, but the back-off has not passed yet: still nothing.
    Job.objects.filter(pk=job.pk).update(state=Job.State.FAILED, error="swapon failed")
    assert "repair_job" not in run_backend_check(check_job(backend))

    # Once it has, a second attempt, and the wait doubles.
    BackendHealth.objects.filter(pk=health.pk).update(
        next_repair_at=timezone.now() - timedelta(seconds=1)
    )
    second = run_backend_check(check_job(backend))
    assert Job.objects.get(uuid=second["repair_job"]).kind == "activate"
    health.refresh_from_db()
    assert health.repair_attempts == 2
    wait = (health.next_repair_at - timezone.now()).total_seconds()
    assert 115 < wait <= 120


def test_no_drift_resets_the_back_off(make_file_backend):
    backend = make_file_backend(desired=Backend.Desired.ACTIVE, auto_repair=True)
    result = run_backend_check(check_job(backend))
    Job.objects.filter(uuid=result["repair_job"]).update(state=Job.State.SUCCEEDED)
    swapon(backend)  # what the repair job would have done

    run_backend_check(check_job(backend))

    health = BackendHealth.objects.get(backend=backend)
    assert (health.status, health.repair_attempts, health.next_repair_at) == ("ok", 0, None)


def test_a_check_while_a_job_holds_the_backend_changes_nothing(make_file_backend):
    backend = make_file_backend(desired=Backend.Desired.ACTIVE, auto_repair=True)
    Job.objects.create(kind="activate", host=backend.host, backend=backend, state=Job.State.RUNNING)
    result = run_backend_check(check_job(backend))
    assert [f["check"] for f in result["findings"]] == ["busy"]
    assert "repair_job" not in result
    assert not BackendHealth.objects.filter(backend=backend).exclude(status="unknown").exists()
