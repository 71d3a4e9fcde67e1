"""A cancel asked while a try runs, the try then failing in a way worth a later try: the
job ends as cancelled, its failure said, not queued again with the cancel asked, where it
would wait for ever if its message were lost (``resend_lost`` leaves such a job alone:
261/1). Asked after the runner looked, or while it could not read the row, the requeue's
own write ends it (262/1); a queued job with a cancel asked, left by an older worker, is
ended by the sweep."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from django.db.models.functions import Now

from backends import Policy, kernel
from backends.errors import BusyError
from swapadmin.core import finished, runner, services, tasks
from swapadmin.core.context import JobContext
from swapadmin.core.models import Backend, Job
from tests.control.test_a_job_that_changed_its_signed_record_is_not_tried_again import (
    BUSY,
    Contended,
    contended,
)
from tests.control.test_run_job_directly import job_for, ran
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

__all__ = ["contended"]  # the fixture this module uses


def _busy_once(monkeypatch: pytest.MonkeyPatch, backend: Backend, **meanwhile: Any) -> None:
    """The swapon meets a busy device, once ``meanwhile`` is written to the running job."""

    def busy(self: Contended, store: Any, **kw: Any) -> None:
        Job.objects.filter(state=Job.State.RUNNING, backend=backend).update(**meanwhile)
        raise BusyError(BUSY)

    monkeypatch.setattr(Contended, "swap_on", busy)


ASKED = {"cancel_requested": True, "cancel_requested_at": Now()}


def _ended_cancelled(job: Job) -> None:
    assert job.state == Job.State.CANCELLED and job.finished_at is not None, job.log
    assert job.progress_message == f"not tried again (cancel asked): {BUSY}"
    assert job.attempt == 0 and job.waiting_reason == ""
    assert "will try again" not in job.log or "after all" in job.log, job.log
    assert finished.ran_here(str(job.uuid))


def test_the_job_ends_cancelled_with_its_failure(
    contended: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _busy_once(monkeypatch, contended, **ASKED)

    job = ran(job_for(contended, Job.Kind.ACTIVATE))

    _ended_cancelled(job)
    assert job.error == BUSY
    assert f"failed: {BUSY}. Not tried again: a cancel was asked." in job.log
    assert "will try again" not in job.log, job.log
    assert not kernel.is_active(contended.state["device"])


def test_a_cancel_the_runner_could_not_see_is_not_queued(
    contended: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row unreadable when the runner looked (or the cancel asked just after): the
    requeue's write finds the cancel, and ends the job instead."""
    _busy_once(monkeypatch, contended, **ASKED)
    monkeypatch.setattr(runner, "_reload", lambda ctx: None)

    job = ran(job_for(contended, Job.Kind.ACTIVATE))

    _ended_cancelled(job)
    assert job.error == BUSY
    assert "not tried again after all: a cancel was asked meanwhile" in job.log, job.log


def test_rows_changed_by_the_try_are_said_too(
    contended: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relabelled after signing: the try's end writes the new label, which the cancelled
    job's error names, as a failed one's would (262/3)."""
    subprocess.run(["swaplabel", "-L", "relabelled", contended.params["path"]], check=True)
    _busy_once(monkeypatch, contended, **ASKED)

    job = ran(job_for(contended, Job.Kind.ACTIVATE))

    _ended_cancelled(job)
    assert job.error.startswith(f"{BUSY}. Its rows changed since signing ("), job.error
    assert 'backend.label is "relabelled" now but was ""' in job.error, job.error


def test_a_job_the_sweep_failed_meanwhile_keeps_that_end(
    contended: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _busy_once(monkeypatch, contended, state=Job.State.FAILED, error="the sweep's words")

    job = ran(job_for(contended, Job.Kind.ACTIVATE))

    assert (job.state, job.error, job.attempt) == (Job.State.FAILED, "the sweep's words", 0)
    assert f"not tried again: the job had been {Job.State.FAILED} meanwhile" in job.log


def test_the_sweep_ends_a_queued_job_with_a_cancel_asked(contended: Backend) -> None:
    """As an older worker's retry could leave it: nothing would claim or send it again."""
    job = job_for(contended, Job.Kind.ACTIVATE)
    Job.objects.filter(pk=job.pk).update(attempt=1, error=BUSY, **ASKED)

    assert services.end_queued_cancels() == 1

    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED and job.error == BUSY, job.error
    assert job.progress_message == "cancelled before its next try"
    assert services.end_queued_cancels() == 0

    # The sweep asks it.
    other = job_for(contended, Job.Kind.ACTIVATE)
    Job.objects.filter(pk=other.pk).update(**ASKED)
    assert tasks.sweep()["cancelled"] == 1
    assert Job.objects.get(pk=other.pk).state == Job.State.CANCELLED


def test_a_requeue_written_again_leaves_the_retry_queued(contended: Backend) -> None:
    """Written again after a reply the database lost (``ctx.record`` retries it): the row
    its first run queued is left as it is, not taken for a job that ended here; nor is a
    later claim of the job, running its next try (264/2)."""
    job = job_for(contended, Job.Kind.ACTIVATE)
    at_claim = Job.objects.get(pk=job.pk)  # as the first try's context holds it
    job = ran(job)
    assert job.state == Job.State.QUEUED and job.attempt == 1, job.log
    ctx = JobContext(job=at_claim, backend=None, policy=Policy.from_env())

    runner._requeue(ctx, 1, reason="retrying", error=BUSY)

    again = Job.objects.get(pk=job.pk)
    assert (again.state, again.attempt, again.error) == (Job.State.QUEUED, 1, BUSY)

    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING)  # the next try claims it
    runner._requeue(ctx, 1, reason="retrying", error=BUSY)

    later = Job.objects.get(pk=job.pk)
    assert (later.state, later.attempt) == (Job.State.RUNNING, 1)
    assert not finished.ran_here(str(job.uuid))
    Job.objects.filter(pk=job.pk).update(state=Job.State.CANCELLED)


def test_a_retry_cancelled_at_a_step_keeps_the_failure_it_was_for(
    contended: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled at its first step, a retry keeps its failure, as one cancelled while it
    waited does; a first try cancelled so has none (264/4)."""
    claim = runner.claim

    def asked_at_each_claim(job: Job, worker: str) -> bool:
        taken = claim(job, worker)
        if taken and job.kind == Job.Kind.ACTIVATE:  # not the fixture's destroy
            Job.objects.filter(pk=job.pk).update(**ASKED)
        return taken

    retry = ran(job_for(contended, Job.Kind.ACTIVATE))
    assert retry.state == Job.State.QUEUED and retry.error == BUSY, retry.log
    monkeypatch.setattr(runner, "claim", asked_at_each_claim)

    retry = ran(retry)
    first = job_for(contended, Job.Kind.ACTIVATE)
    Job.objects.filter(pk=first.pk).update(error="words another machine wrote")
    first = ran(first)

    assert (retry.state, retry.error) == (Job.State.CANCELLED, BUSY), retry.log
    assert (first.state, first.error) == (Job.State.CANCELLED, ""), first.log
    for ended in (retry, first):
        assert "cancelled at the user's request" in ended.log, ended.log


def test_a_cancel_asked_just_before_the_claim_ends_the_job(
    contended: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked after the runner read the row, before its claim: the claim refuses it, and the
    job ends as cancelled, not as waiting for a busy backend (264/8)."""
    claim = runner.claim

    def asked_first(job: Job, worker: str) -> bool:
        if job.kind == Job.Kind.ACTIVATE:  # not the fixture's destroy
            Job.objects.filter(pk=job.pk).update(**ASKED)
        return claim(job, worker)

    monkeypatch.setattr(runner, "claim", asked_first)

    job = ran(job_for(contended, Job.Kind.ACTIVATE))

    assert job.state == Job.State.CANCELLED and job.started_at is None, job.log
    assert job.waiting_reason == "" and job.progress_message == "cancelled before it started"
