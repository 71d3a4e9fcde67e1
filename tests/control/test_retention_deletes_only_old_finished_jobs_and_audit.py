"""Retention of jobs and audit events: finished jobs past SWAPADMIN_JOB_RETENTION_DAYS go,
except the latest of each kind of each backend; a queued or running job stays whatever its
age; rows that named a deleted job lose the link, not themselves; audit events go after
SWAPADMIN_AUDIT_RETENTION_DAYS. In batches, and a second run deletes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from swapadmin.core.models import AuditEvent, Backend, Job
from swapadmin.core.retention import prune_audit, prune_jobs
from swapadmin.health.models import BackendHealth, CheckResult

pytestmark = pytest.mark.django_db


def aged(job: Job, days: float, *, finished: bool = True) -> Job:
    """``job`` as if queued (and finished) ``days`` ago: set by update(), as no save would."""
    at = timezone.now() - timedelta(days=days)
    Job.objects.filter(pk=job.pk).update(queued_at=at, finished_at=at if finished else None)
    return job


def job(host, backend, kind: str, state: str = Job.State.SUCCEEDED) -> Job:
    return Job.objects.create(
        host=host, backend=backend, backend_name=backend.name if backend else "", kind=kind,
        state=state,
    )  # fmt: skip


def test_old_finished_jobs_go_and_everything_else_stays(host_row, settings):
    settings.SWAPADMIN_JOB_RETENTION_DAYS = 90
    b = Backend.objects.create(host=host_row, kind="file", name="b0")
    # Made in the order they were queued, as ids are: the latest of a kind is the last one.
    old_scan = aged(job(host_row, b, "scan"), 200)
    old_scan_failed = aged(job(host_row, b, "scan", Job.State.FAILED), 150)
    new_scan = aged(job(host_row, b, "scan"), 10)
    only_benchmark = aged(job(host_row, b, "benchmark"), 300)  # latest of its kind: kept
    repair = aged(job(host_row, b, "activate"), 120)
    latest_activate = aged(job(host_row, b, "activate"), 100)
    never_started = aged(job(host_row, b, "resize", Job.State.CANCELLED), 95, finished=False)
    aged(job(host_row, b, "resize"), 1)
    queued = aged(job(host_row, b, "destroy", Job.State.QUEUED), 400, finished=False)
    running = aged(job(host_row, b, "burn_in", Job.State.RUNNING), 400, finished=False)
    aged(job(host_row, b, "burn_in"), 91)  # the latest finished burn-in, while one runs
    old_discover = aged(job(host_row, None, "discover"), 365)
    aged(job(host_row, None, "discover"), 200)  # the host's latest discover: kept
    young = aged(job(host_row, b, "check"), 89)
    aged(job(host_row, b, "check"), 1)
    result = CheckResult.objects.create(host=host_row, backend=b, job=repair, status="ok")
    BackendHealth.objects.create(backend=b, last_repair_job=repair, repair_attempts=2)
    before = set(Job.objects.values_list("pk", flat=True))

    assert prune_jobs(batch=2) == 5
    gone = {old_scan.pk, old_scan_failed.pk, repair.pk, never_started.pk, old_discover.pk}
    assert set(Job.objects.values_list("pk", flat=True)) == before - gone
    for kept in (new_scan, only_benchmark, latest_activate, queued, running, young):
        assert Job.objects.filter(pk=kept.pk).exists()
    result.refresh_from_db()
    assert result.job is None  # the result stays, without its job
    health = BackendHealth.objects.get(backend=b)
    assert (health.last_repair_job, health.repair_attempts) == (None, 2)

    assert prune_jobs(batch=2) == 0


def test_the_latest_that_succeeded_stays_though_a_later_one_failed(host_row, settings):
    """The dynamic swap policy reads a file's latest activate that succeeded to tell whether
    it was ever on: pruned, a file on for months whose swapon then failed once was removed
    as one never on (review 198/1)."""
    settings.SWAPADMIN_JOB_RETENTION_DAYS = 90
    b = Backend.objects.create(host=host_row, kind="file", name="dyn-1")
    older_on = aged(job(host_row, b, "activate"), 300)
    on = aged(job(host_row, b, "activate"), 200)
    failed = aged(job(host_row, b, "activate", Job.State.FAILED), 100)

    assert prune_jobs() == 1
    assert not Job.objects.filter(pk=older_on.pk).exists()
    assert Job.objects.filter(pk=on.pk).exists() and Job.objects.filter(pk=failed.pk).exists()


def test_zero_days_keeps_jobs_for_ever(host_row, settings):
    settings.SWAPADMIN_JOB_RETENTION_DAYS = 0
    aged(job(host_row, None, "tune"), 5000)
    aged(job(host_row, None, "tune"), 4000)
    assert prune_jobs() == 0
    assert Job.objects.count() == 2


def test_audit_events_go_after_their_retention(host_row, settings):
    settings.SWAPADMIN_AUDIT_RETENTION_DAYS = 400

    def event(days: float) -> AuditEvent:
        e = AuditEvent.objects.create(
            actor_name="alice", via="api", action="activate", object_type="backend",
            object_repr="b0", host=host_row, outcome="queued",
        )  # fmt: skip
        AuditEvent.objects.filter(pk=e.pk).update(at=timezone.now() - timedelta(days=days))
        return e

    old = [event(401), event(500), event(1000)]
    kept = [event(399), event(0)]
    assert prune_audit(batch=2) == 3
    assert set(AuditEvent.objects.values_list("pk", flat=True)) == {e.pk for e in kept}
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert prune_audit() == 0
