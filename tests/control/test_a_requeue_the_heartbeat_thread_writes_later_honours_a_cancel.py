"""A requeue the database could not take when the try ended is kept by the process's
heartbeat thread (``ctx.record``, core/liveness.py) and written from that thread's own
connection once the database is back. A cancel the database took meanwhile ends the job
there, recorded on this host as finished; a cancelled end written again, after a reply the
database lost, changes nothing (263/9, 264/5)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db.models.functions import Now
from django.utils import timezone

from backends import Policy
from swapadmin.core import finished, runner
from swapadmin.core.context import JobContext
from swapadmin.core.liveness import Registry
from swapadmin.core.models import Host, Job
from tests.fixtures.workers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

BUSY = "the device is held by another opener for now"
ENDED = "not tried again after all: a cancel was asked meanwhile"


@pytest.fixture
def registry(settings: Any, tmp_path: Path) -> Iterator[Registry]:
    settings.SWAPADMIN_JOB_HEARTBEAT_SECONDS = 0.2
    settings.DATA_DIR = tmp_path  # the requeue's cancelled end records the job finished
    r = Registry()
    yield r
    r.stop()


def _try_that_failed(host: Host) -> JobContext:
    job = Job.objects.create(
        kind=Job.Kind.ACTIVATE, host=host, state=Job.State.RUNNING, started_at=timezone.now()
    )
    return JobContext(job=job, backend=None, policy=Policy.from_env())


def _requeue(ctx: JobContext) -> None:
    runner._requeue(ctx, 1, reason=f"retrying in 5 s after: {BUSY}", error=BUSY)


def _written_by(registry: Registry, ctx: JobContext) -> Job:
    """The requeue kept, then written by the heartbeat thread: returned without an error
    (one the thread logs and gives up on would change nothing too)."""
    written: list[bool] = []

    def requeue() -> None:
        _requeue(ctx)
        written.append(True)

    registry.defer(ctx.job.pk, requeue, "requeueing the job")
    wait_until(lambda: ctx.job.pk not in registry.running(), 30, "the kept requeue written")
    assert written, "the heartbeat thread gave the requeue up"
    return Job.objects.get(pk=ctx.job.pk)


def test_a_kept_requeue_ends_the_job_a_cancel_was_asked_of_meanwhile(
    registry: Registry, host_row: Host
) -> None:
    ctx = _try_that_failed(host_row)
    registry.add(ctx.job.pk)
    # The database back, the cancel reaches it before the kept requeue does.
    Job.objects.filter(pk=ctx.job.pk).update(cancel_requested=True, cancel_requested_at=Now())

    job = _written_by(registry, ctx)

    assert (job.state, job.attempt, job.error) == (Job.State.CANCELLED, 0, BUSY)
    assert job.progress_message == f"not tried again (cancel asked): {BUSY}"
    assert ENDED in job.log
    assert finished.ran_here(str(job.uuid))


def test_a_cancelled_end_written_again_after_a_lost_reply_changes_nothing(
    registry: Registry, host_row: Host
) -> None:
    ctx = _try_that_failed(host_row)
    Job.objects.filter(pk=ctx.job.pk).update(cancel_requested=True, cancel_requested_at=Now())
    _requeue(ctx)  # taken by the database, its reply lost: kept, and written again
    first = Job.objects.get(pk=ctx.job.pk)
    assert first.state == Job.State.CANCELLED and finished.ran_here(str(first.uuid))

    again = _written_by(registry, ctx)

    assert (again.state, again.finished_at, again.log) == (
        Job.State.CANCELLED, first.finished_at, first.log,
    )  # fmt: skip
    assert again.log.count(ENDED) == 1


def test_a_requeue_written_again_after_a_lost_reply_leaves_the_retry_as_it_was(
    registry: Registry, host_row: Host
) -> None:
    ctx = _try_that_failed(host_row)
    _requeue(ctx)  # taken by the database, its reply lost
    first = Job.objects.get(pk=ctx.job.pk)
    assert (first.state, first.attempt) == (Job.State.QUEUED, 1)

    again = _written_by(registry, ctx)

    assert (again.state, again.attempt, again.error) == (Job.State.QUEUED, 1, BUSY)
    assert not finished.ran_here(str(again.uuid))
