"""A job waiting for a later try keeps the failure that try is for in its ``error``
(``runner._requeue``), for the refusal of that try to repeat. The pages show it as the
waiting reason says it, never as the job's failure (a red alert, re-announced at every
poll) until the job has ended; a cancel before the try clears it (review 260/1-2)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core import services
from swapadmin.core.models import Job

from .conftest import HTMX

BUSY = "the device is held by another opener for now"


def _waiting(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(
        state="queued", attempt=1, error=BUSY, waiting_reason=f"retrying in 5 s after: {BUSY}"
    )


def test_the_job_page_and_the_list_show_no_failure(
    as_user: Any, victor: User, running_job: Job
) -> None:
    _waiting(running_job)
    client = as_user(victor)

    page = client.get(reverse("job", args=[running_job.uuid])).content.decode()
    listed = client.get(reverse("jobs")).content.decode()

    for body in (page, listed):
        assert f"retrying in 5 s after: {BUSY}" in body
        assert 'class="msg msg-error"' not in body and 'class="error-text"' not in body

    # Ended, the same row shows its failure on both.
    Job.objects.filter(pk=running_job.pk).update(state="failed", waiting_reason="")
    page = client.get(reverse("job", args=[running_job.uuid])).content.decode()
    listed = client.get(reverse("jobs")).content.decode()
    assert 'class="msg msg-error"' in page and BUSY in page
    assert f'<small class="error-text">{BUSY}</small>' in listed


def test_a_cancel_before_the_try_keeps_the_failure_it_was_for(
    as_user: Any, oscar: User, running_job: Job
) -> None:
    _waiting(running_job)

    as_user(oscar).post(reverse("job-cancel", args=[running_job.uuid]), headers=HTMX)

    running_job.refresh_from_db()
    assert (running_job.state, running_job.error) == ("cancelled", BUSY)
    assert running_job.progress_message == "cancelled before its next try"


def test_a_cancel_asked_as_the_job_is_queued_for_its_retry_is_kept(
    as_user: Any, oscar: User, running_job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker's requeue lands while the cancel is being asked (263/1): the cancel is
    asked first, of the row queued or running, and no requeue takes a row with it asked."""
    end_queued = services.cancel_before_start

    def requeued_meanwhile(job_pk: int) -> bool:
        ended = end_queued(job_pk)
        # What runner._requeue writes, on the row it may write.
        Job.objects.filter(pk=job_pk, state=Job.State.RUNNING, cancel_requested=False).update(
            state=Job.State.QUEUED, attempt=1, error=BUSY
        )
        return ended

    monkeypatch.setattr(services, "cancel_before_start", requeued_meanwhile)

    as_user(oscar).post(reverse("job-cancel", args=[running_job.uuid]), headers=HTMX)

    running_job.refresh_from_db()
    assert (running_job.state, running_job.cancel_requested) == ("running", True)
