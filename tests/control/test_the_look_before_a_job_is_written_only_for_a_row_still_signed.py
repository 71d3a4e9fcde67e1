"""The worker's look at a row before its job (a job before ended without its worker's
word) is written only over the row its job was signed for, and then the job goes on with
it (review 165).

- The look copied the header's label to the row (an edit whose worker died between the
  header and the row), and the signature, checked after the write, no longer matched:
  the very job the look was for failed as if the row had been tampered with. The label
  is read from this backend's own store, so the job goes on with it.
- A verify that could not finish (the database lost while it loaded the host) left the
  unproven row to the end-of-job refresh, which read the store it named.

Real: a provisioned swap file whose header label is changed with util-linux's swaplabel."""

from __future__ import annotations

import subprocess

import pytest

from swapadmin.core import runner, signing
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import backend_on, job_for, run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


@pytest.fixture
def flagged(host_row, swap_root) -> Backend:
    """A provisioned, inactive swap file whose last job ended without its worker's word."""
    backend = backend_on(host_row, swap_root / "labelled", label="before")
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.error
    Backend.objects.filter(pk=backend.pk).update(reread_before_next_job=True)
    backend.refresh_from_db()
    return backend


def test_a_label_the_look_finds_in_the_header_does_not_fail_the_job(flagged):
    job = job_for(flagged, Job.Kind.CHECK)  # signed with the row's label, "before"
    subprocess.run(["swaplabel", "-L", "after", flagged.params["path"]], check=True)

    done = run(job)

    assert done.state == Job.State.SUCCEEDED, done.error
    flagged.refresh_from_db()
    assert (flagged.label, flagged.reread_before_next_job) == ("after", False)


def test_a_verify_that_could_not_finish_leaves_the_row_unread(flagged, monkeypatch):
    job = job_for(flagged, Job.Kind.CHECK)
    seen_at = flagged.observed_at
    verify = signing.verify_here
    calls = []

    def lost_the_second_time(job, db_now=None):
        calls.append(db_now)
        if len(calls) == 2:
            raise ConnectionError("the database went away")
        verify(job, db_now=db_now)

    monkeypatch.setattr(signing, "verify_here", lost_the_second_time)

    runner.run(job.pk, worker="w@testhost")

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "the database went away" in job.error, job.error
    assert calls[1] is None  # the second verify asks the database's clock now
    row = Backend.objects.get(pk=flagged.pk)
    assert (row.observed_at, row.reread_before_next_job) == (seen_at, True)
