"""A job waiting for a later try keeps the failure that try is for in its ``error``
(``runner._requeue``), for the refusal of that try to repeat. The pages show it as the
waiting reason says it, never as the job's failure (a red alert, re-announced at every
poll) until the job has ended. A job cancelled before its next try keeps the failure, shown
as what came before the cancel, not as the cancel's failure (review 260/1, 263/3, 264/3)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models.functions import Now
from django.urls import reverse

from backends import Policy
from swapadmin.core import runner, services
from swapadmin.core.context import JobContext
from swapadmin.core.models import Job
from tests.faults.pause import in_another_thread, waiting_for
from tests.fixtures.marks import row_locks
from tests.fixtures.workers import wait_until

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
    client = as_user(oscar)

    client.post(reverse("job-cancel", args=[running_job.uuid]), headers=HTMX)

    running_job.refresh_from_db()
    assert (running_job.state, running_job.error) == ("cancelled", BUSY)
    assert running_job.progress_message == "cancelled before its next try"
    assert running_job.waiting_reason == ""
    page = client.get(reverse("job", args=[running_job.uuid])).content.decode()
    listed = client.get(reverse("jobs")).content.decode()
    assert f'<p class="msg msg-info">Cancelled after a try had failed: {BUSY}</p>' in page
    assert f'<small class="muted">cancelled after a try had failed: {BUSY}</small>' in listed
    for body in (page, listed):
        assert 'class="msg msg-error"' not in body and 'class="error-text"' not in body


@row_locks
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("asked_before", [False, True], ids=["first-ask", "asked-again"])
def test_a_requeue_that_comes_during_the_cancel_waits_for_it_then_ends_the_job(
    as_user: Any,
    oscar: User,
    running_job: Job,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    tmp_path: Path,
    asked_before: bool,
) -> None:
    """The worker's requeue (``runner._requeue`` itself, on a connection of its own) comes
    while the cancel holds the job's row (263/1, 265/6): it waits for the cancel's commit,
    finds the cancel asked, and ends the job instead of queueing it. Before the lock, it
    came between the cancel's two writes and matched neither: the job stayed queued with no
    cancel, and the page said "asked to stop". Asked again, the cancel writes no flag, and
    only its lock holds the requeue back (268/2)."""
    settings.DATA_DIR = tmp_path  # the requeue's cancelled end records the job finished
    if asked_before:
        Job.objects.filter(pk=running_job.pk).update(
            cancel_requested=True, cancel_requested_at=Now()
        )
    # The worker's context, read before the cancel as the worker's own was.
    ctx = JobContext(job=Job.objects.get(pk=running_job.pk), backend=None, policy=Policy.from_env())
    end_queued = services.cancel_before_start
    requeues: list[threading.Thread] = []

    def requeue_comes(job_pk: int) -> bool:
        # Here the cancel's transaction holds the row, the cancel asked.
        holder = connection.connection.info.backend_pid
        thread = in_another_thread(
            lambda: runner._requeue(ctx, 1, reason=f"retrying in 5 s after: {BUSY}", error=BUSY)
        )
        requeues.append(thread)
        wait_until(lambda: not thread.is_alive() or waiting_for(holder), 30, "the requeue to come")
        assert thread.is_alive(), "the requeue went through while the cancel held the row"
        return end_queued(job_pk)

    monkeypatch.setattr(services, "cancel_before_start", requeue_comes)

    try:
        r = as_user(oscar).post(reverse("job-cancel", args=[running_job.uuid]), headers=HTMX)
    finally:
        for thread in requeues:  # never left writing while the test's rows are flushed
            thread.join(30)

    assert "asked to stop at its next check" in r.content.decode()
    assert requeues and not requeues[0].is_alive(), "the requeue still waits after the commit"
    running_job.refresh_from_db()
    assert (running_job.state, running_job.error) == ("cancelled", BUSY)
    assert running_job.progress_message == f"not tried again (cancel asked): {BUSY}"
    assert "not tried again after all: a cancel was asked meanwhile" in running_job.log
