"""A flag set while the settle's look ran is kept for a look after it (reviews 169/9, 172/8).

A backend flagged by the sweep elsewhere is read by its host's settle, which then clears the
flag. If another job of the backend was failed (and the backend flagged again) while that
look read the store, the look saw the store before that job's end: clearing the flag then
let the next job trust a state read before the half-done work it must know of."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from swapadmin.core import orphans
from swapadmin.core.models import Backend, Job
from swapadmin.core.orphans import fail_job, settle_orphans
from tests.control.test_a_look_that_read_nothing_settles_nothing import THIS_BOOT, flag_of
from tests.control.test_run_job_directly import backend_on

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
    # The look itself was written: the row's state is what it read.
    assert Backend.objects.get(pk=backend.pk).observed_state == Backend.Observed.ABSENT

    monkeypatch.setattr(orphans, "read_observation", look)
    settle_orphans(host_row)

    assert not flag_of(backend)


def test_a_job_failed_before_the_look_does_not_keep_the_flag(host_row, swap_root):
    backend, job = flagged_with_a_running_job(host_row, swap_root / "s")
    assert fail_job(job, "the worker running it stopped", Q())
    Job.objects.filter(pk=job.pk).update(finished_at=Now() - timedelta(seconds=5))

    settle_orphans(host_row)

    assert not flag_of(backend)
