"""A retry that the worker's gate refuses, for a change the runner could not see before it
queued it (another machine's write in the wait; equally a write held back while the
database was away, or the signature's expiry), ends with the failure it was to retry:
the refusal would otherwise replace it (258/3). The failure is kept in the job's error
while it waits, which nothing else writes then: a dispatch clears the waiting reason
(259/1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import timezone

from swapadmin.core import services, tasks
from swapadmin.core.models import Backend, Host, Job
from tests.control.test_a_job_that_changed_its_signed_record_is_not_tried_again import (
    BUSY,
    contended,
)
from tests.control.test_run_job_directly import job_for, ran
from tests.fixtures.host import needs_root
from tests.fixtures.workers import drop_queues

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

__all__ = ["contended"]  # the fixture this module uses


def _queued_retry(backend: Backend) -> Job:
    job = ran(job_for(backend, Job.Kind.ACTIVATE))
    assert job.state == Job.State.QUEUED and job.attempt == 1, job.log
    assert job.error == BUSY, job.error  # kept whole while it waits
    return job


def _refused(job: Job) -> Job:
    """Another machine relabels the row in the wait; the retry's gate refuses it."""
    Backend.objects.filter(pk=job.backend_id).update(label="theirs")
    assert tasks.run_job(job.pk) == "refused"
    job.refresh_from_db()
    assert job.state == Job.State.FAILED, job.log
    assert job.error.startswith("the job's rows no longer match"), job.error
    return job


def test_the_refusal_ends_with_the_failure(contended: Backend) -> None:
    job = _refused(_queued_retry(contended))

    said = f'nothing was done (this was a retry; its row says its last try failed: "{BUSY}")'
    assert job.error.endswith(said), job.error


@pytest.fixture
def sent_away() -> Iterator[None]:
    """The test host's queue emptied at the end: no later worker of that name is to meet a
    message for a job this test's rolled-back rows held (260/9)."""
    yield
    drop_queues(["testhost"])


def test_a_dispatch_in_the_wait_loses_nothing(contended: Backend, sent_away: None) -> None:
    job = _queued_retry(contended)
    Host.objects.filter(pk=contended.host_id).update(last_heartbeat=timezone.now())
    assert services.dispatch(job.pk)  # sent again, as a lost retry is
    assert Job.objects.get(pk=job.pk).waiting_reason == ""

    job = _refused(job)

    assert job.error.endswith(f'its last try failed: "{BUSY}")'), job.error


def test_a_first_try_refused_says_nothing_of_a_retry(contended: Backend) -> None:
    job = job_for(contended, Job.Kind.ACTIVATE)
    Job.objects.filter(pk=job.pk).update(error="words another machine wrote")

    job = _refused(job)

    assert "this was a retry" not in job.error, job.error


def test_the_runners_own_check_after_the_claim_ends_with_it_too(contended: Backend) -> None:
    """The gate passed (its rows read a moment before the claim), the runner's check after
    the claim refuses: run past the gate (260/4)."""
    job = _queued_retry(contended)
    Backend.objects.filter(pk=job.backend_id).update(label="theirs")

    job = ran(job)

    assert job.state == Job.State.FAILED, job.log
    assert job.error.endswith(f'its row says its last try failed: "{BUSY}")'), job.error


def test_a_long_failure_is_cut_and_quoted_as_its_row_says_it(contended: Backend) -> None:
    """Cut at 300 characters, quotes escaped, other letters as they are (260/5)."""
    job = _queued_retry(contended)
    long = 'the kernel said "busy" ' + "é" * 400
    Job.objects.filter(pk=job.pk).update(error=long)

    job = _refused(job)

    kept = long[:299].replace('"', '\\"')
    assert job.error.endswith(f'its last try failed: "{kept}…")'), job.error
    assert '\\"busy\\" éé' in job.error


def test_a_retry_cancelled_before_it_ran_keeps_its_failure(contended: Backend) -> None:
    """The runner's own cancel before the start, of a queued retry with a cancel asked (a
    user's cancel whose second write a crash stopped): its try did fail, and the cancel is
    why no other came (263/3)."""
    job = _queued_retry(contended)
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)

    job = ran(job)

    assert job.state == Job.State.CANCELLED, job.log
    assert job.error == BUSY and job.progress_message == "cancelled before its next try"
