"""Retention's job prune locks the jobs it deletes before anything else, passing over one a
forget (or another change) holds. It used to set a doomed job's check results' job to NULL
first, then wait for the job a forget held while the forget waited for those results:
PostgreSQL broke the deadlock by failing one side, and a failed prune failed the whole
retention run (audit and health pruning skipped with it)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from swapadmin.core.models import Host, Job
from swapadmin.core.retention import prune_jobs
from swapadmin.health.models import CheckResult
from tests.fixtures.marks import row_locks
from tests.fixtures.workers import blocked_by, wait_until
from tests.fixtures.workers import test_database_url as database_url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def old_jobs(settings: Any) -> tuple[Job, Job]:
    """Two finished checks of one host a year old: the older may go, the newer is kept (the
    latest of its host and kind)."""
    settings.SWAPADMIN_JOB_RETENTION_DAYS = 30
    host = Host.objects.create(name="pruned-beside-a-forget")
    year_ago = timezone.now() - timedelta(days=365)
    jobs = tuple(
        Job.objects.create(
            host=host, kind=Job.Kind.CHECK, state=Job.State.SUCCEEDED, finished_at=year_ago
        )
        for _ in range(2)
    )
    CheckResult.objects.create(host=host, job=jobs[0], status="ok")
    return jobs  # type: ignore[return-value]


@row_locks
def test_the_prune_passes_over_a_held_job_and_takes_it_next_run(old_jobs: tuple[Job, Job]) -> None:
    doomed, kept = old_jobs
    holder = psycopg.connect(database_url(), autocommit=False)
    outcome: list[object] = []
    pid: list[int] = []

    def prune() -> None:
        try:
            pid.append(connection.cursor().connection.info.backend_pid)
            outcome.append(prune_jobs())
        except Exception as e:  # the deadlock's error, which the test exists to rule out
            outcome.append(e)
        finally:
            connection.close()

    try:
        # As the forget holds it (forget.HELD: FOR UPDATE NOWAIT), before deleting its results.
        holder.execute("SELECT id FROM core_job WHERE id = %s FOR UPDATE", (doomed.pk,))
        pruning = threading.Thread(target=prune)
        pruning.start()
        # Either it ends, or it waits for the holder: the old prune did the second.
        wait_until(
            lambda: outcome or (pid and blocked_by(pid[0], holder.info.backend_pid)),
            message="the prune ending or waiting for the held job",
        )
        waited = not outcome
    finally:
        holder.rollback()
        holder.close()
    pruning.join(timeout=60)

    assert not waited, "the prune waited for a job a forget holds"
    assert outcome == [0], outcome
    assert CheckResult.objects.get(host=doomed.host).job_id == doomed.pk  # untouched
    # Released, it goes at the next run; the latest of its kind stays.
    assert prune_jobs() == 1
    assert list(Job.objects.filter(host=doomed.host)) == [kept]
    assert CheckResult.objects.get(host=doomed.host).job_id is None
