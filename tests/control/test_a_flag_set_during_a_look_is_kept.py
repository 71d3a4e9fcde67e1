"""A flag set while a look ran is kept for a look after it (reviews 169/9, 172/8, 174/1).

A backend flagged by the sweep elsewhere is read by its host's settle, which then clears the
flag. If another job of the backend was failed (and the backend flagged again) while that
look read the store, the look saw the store before that job's end: clearing the flag then
let the next job trust a state read before the half-done work it must know of. The same
for the worker's look before a job. The flag is counted (``reread_generation``) and a look
clears only the flag it saw: a job that failed meanwhile without flagging the backend (a
refusal, a job's own failure) keeps nothing, and no clock decides (SQLite's text times
compare wrong to the millisecond)."""

from __future__ import annotations

import pytest
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from swapadmin.core import orphans, runner
from swapadmin.core.models import Backend, Job
from swapadmin.core.orphans import fail_job, settle_orphans
from tests.control.test_a_look_that_read_nothing_settles_nothing import THIS_BOOT, flag_of
from tests.control.test_run_job_directly import backend_on, job_for, run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


@pytest.fixture(autouse=True)
def long_up(settings, monkeypatch):
    settings.SWAPADMIN_JOB_STALE_SECONDS = 60
    monkeypatch.setattr("swapadmin.core.orphans.database_up_for", lambda: 3600.0)


def flagged_with_a_running_job(host_row, path) -> tuple[Backend, Job]:
    backend = backend_on(host_row, path, observed_state="active")
    Backend.objects.filter(pk=backend.pk).update(reread_before_next_job=True)
    job = Job.objects.create(
        kind=Job.Kind.SCAN, host=host_row, backend=backend, state=Job.State.RUNNING,
        started_at=timezone.now(), worker="w@x", boot_id=THIS_BOOT,
    )  # fmt: skip
    Job.objects.filter(pk=job.pk).update(heartbeat_at=Now())  # alive: the settle leaves it
    return backend, job


def test_a_job_failed_during_the_look_keeps_the_flag(host_row, swap_root, monkeypatch):
    backend, job = flagged_with_a_running_job(host_row, swap_root / "s")
    look = orphans.read_observation

    def sweep_meanwhile(row, *args, **kwargs):
        fields = look(row, *args, **kwargs)
        # The sweep elsewhere fails the job after the store was read, and flags the backend.
        assert fail_job(job, "the worker running it stopped", Q())
        return fields

    monkeypatch.setattr(orphans, "read_observation", sweep_meanwhile)
    settle_orphans(host_row)

    assert Job.objects.get(pk=job.pk).state == Job.State.FAILED
    assert flag_of(backend)  # read again on the next turn, after the job's end
    # Nor is the look written: it read the store before that job's end (review 176/2).
    assert Backend.objects.get(pk=backend.pk).observed_state == Backend.Observed.ACTIVE

    monkeypatch.setattr(orphans, "read_observation", look)
    settle_orphans(host_row)

    assert not flag_of(backend)
    assert Backend.objects.get(pk=backend.pk).observed_state == Backend.Observed.ABSENT


def test_a_look_older_than_a_newer_one_is_thrown_away(host_row, swap_root, monkeypatch):
    """The settle's look began; a job failed and flagged the backend; the backend's next
    job looked again after that end and cleared the flag. The settle's look, older, must
    not overwrite the newer one with nothing flagged to correct it (review 176/2)."""
    backend, job = flagged_with_a_running_job(host_row, swap_root / "s")
    look = orphans.read_observation

    def overtaken(row, *args, **kwargs):
        fields = look(row, *args, **kwargs)
        assert fail_job(job, "the worker running it stopped", Q())
        # The next job's own look, under the row's lock, after that job's end.
        Backend.objects.filter(pk=row.pk).update(
            reread_before_next_job=False, observed_state="ready", observed_error="newer"
        )
        return fields

    monkeypatch.setattr(orphans, "read_observation", overtaken)
    settle_orphans(host_row)

    row = Backend.objects.get(pk=backend.pk)
    assert (row.observed_state, row.observed_error) == ("ready", "newer")
    assert not row.reread_before_next_job


def test_a_job_failed_before_the_look_does_not_keep_the_flag(host_row, swap_root):
    backend, job = flagged_with_a_running_job(host_row, swap_root / "s")
    assert fail_job(job, "the worker running it stopped", Q())

    settle_orphans(host_row)

    assert not flag_of(backend)


def test_a_failure_that_flagged_nothing_keeps_nothing(host_row, swap_root, monkeypatch):
    backend, job = flagged_with_a_running_job(host_row, swap_root / "s")
    look = orphans.read_observation

    def failed_meanwhile(row, *args, **kwargs):
        fields = look(row, *args, **kwargs)
        # A job's own failure, or a refusal at the gate: no reason to read the store again.
        Job.objects.filter(pk=job.pk).update(state=Job.State.FAILED, finished_at=Now())
        return fields

    monkeypatch.setattr(orphans, "read_observation", failed_meanwhile)
    settle_orphans(host_row)

    assert not flag_of(backend)


def test_the_look_before_a_job_keeps_a_flag_set_meanwhile(host_row, swap_root, monkeypatch):
    backend, running_job = flagged_with_a_running_job(host_row, swap_root / "s")
    Job.objects.filter(pk=running_job.pk).update(state=Job.State.SUCCEEDED)
    backend.refresh_from_db()
    look = runner.read_observation

    def flagged_meanwhile(row, *args, **kwargs):
        fields = look(row, *args, **kwargs)
        orphans.flag(row.pk)  # the sweep elsewhere failed another job of it just now
        return fields

    monkeypatch.setattr(runner, "read_observation", flagged_meanwhile)
    run(job_for(backend, Job.Kind.CHECK))

    assert flag_of(backend)

    monkeypatch.setattr(runner, "read_observation", look)
    run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.CHECK))

    assert not flag_of(backend)
