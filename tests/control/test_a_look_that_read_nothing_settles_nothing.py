"""A look at a backend that read nothing settles nothing (review 167/1, 167/7, 167/8).

The host's settle, after a reboot or a silent worker, reads the backend of the job it fails
again from the kernel, and clears the flag that makes its next job read it first. A look
that raised, or whose plugin could not be built (a row whose path is outside the swap
roots as configured now), read nothing: the job said "read again", and the flag was
cleared, so the next job trusted a state nobody had read. The same for the worker's look
before a job. And a row deleted while that look read its store failed the job as
"internal error: DoesNotExist"."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.db.models.functions import Now
from django.utils import timezone

from swapadmin.core import observe, runner, tasks
from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.orphans import settle_orphans
from tests.control.test_run_job_directly import backend_on, job_for, run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]

THIS_BOOT = Path("/proc/sys/kernel/random/boot_id").read_text().strip()


@pytest.fixture(autouse=True)
def long_up(settings, monkeypatch):
    settings.SWAPADMIN_JOB_STALE_SECONDS = 60
    # A database just started judges nobody (tests/control/test_sweep_and_settle.py).
    monkeypatch.setattr("swapadmin.core.orphans.database_up_for", lambda: 3600.0)


@pytest.fixture
def unbuildable(host_row, tmp_path) -> Backend:
    """A file backend whose path is outside the swap roots as configured now: its plugin
    cannot be built, so no look at it reads anything."""
    return backend_on(host_row, tmp_path / "elsewhere" / "s", observed_state="active")


def running(backend: Backend, *, boot_id: str = THIS_BOOT, silent_for: float = 0) -> Job:
    job = Job.objects.create(
        kind=Job.Kind.SCAN, host=backend.host, backend=backend, state=Job.State.RUNNING,
        started_at=timezone.now(), worker="w@x", boot_id=boot_id,
    )  # fmt: skip
    Job.objects.filter(pk=job.pk).update(heartbeat_at=Now() - timedelta(seconds=silent_for))
    return job


def flag_of(backend: Backend) -> bool:
    return Backend.objects.get(pk=backend.pk).reread_before_next_job


def test_a_rebooted_job_whose_backend_cannot_be_built_says_so_and_stays_flagged(
    host_row, unbuildable
):
    job = running(unbuildable, boot_id="another-boot")

    assert settle_orphans(host_row) == 1

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "the backend is read again from the kernel before its next job" in job.error
    assert "was read again from the kernel" not in job.error
    assert flag_of(unbuildable)
    # Nothing was read, so nothing is written: the row keeps its state (an ERROR written
    # every turn, then ACTIVE by the sample after it, made it flap: review 169/3).
    assert Backend.objects.get(pk=unbuildable.pk).observed_state == Backend.Observed.ACTIVE


def test_a_silent_job_whose_look_raised_leaves_its_backend_flagged(
    host_row, swap_root, monkeypatch
):
    backend = backend_on(host_row, swap_root / "s")
    job = running(backend, silent_for=300)

    def lost(*args, **kwargs):
        raise OSError("the database went away mid-look")

    monkeypatch.setattr(observe, "_observe", lost)  # the look itself, old code and new
    assert settle_orphans(host_row) == 1

    assert Job.objects.get(pk=job.pk).state == Job.State.FAILED
    assert flag_of(backend)


def test_a_flag_is_cleared_only_by_a_look_that_read(host_row, swap_root, unbuildable):
    readable = backend_on(host_row, swap_root / "r", observed_state="active")
    Backend.objects.filter(pk__in=(readable.pk, unbuildable.pk)).update(reread_before_next_job=True)

    settle_orphans(host_row)

    assert not flag_of(readable)
    assert Backend.objects.get(pk=readable.pk).observed_state == Backend.Observed.ABSENT
    assert flag_of(unbuildable)


def test_the_look_before_a_job_that_built_no_plugin_keeps_the_flag(unbuildable):
    Backend.objects.filter(pk=unbuildable.pk).update(reread_before_next_job=True)
    unbuildable.refresh_from_db()

    done = run(job_for(unbuildable, Job.Kind.CHECK))

    assert done.state == Job.State.FAILED
    assert "outside" in done.error, done.error  # the kind's own reason, from the attach
    assert flag_of(unbuildable)


def test_a_row_deleted_during_the_look_before_its_job_is_said_so(host_row, swap_root, monkeypatch):
    backend = backend_on(host_row, swap_root / "gone")
    Backend.objects.filter(pk=backend.pk).update(reread_before_next_job=True)
    backend.refresh_from_db()
    job = job_for(backend, Job.Kind.CHECK)
    look = runner.read_observation

    def deleted_meanwhile(row, *args, **kwargs):
        fields = look(row, *args, **kwargs)
        Backend.objects.filter(pk=row.pk).delete()  # another machine's forget
        return fields

    monkeypatch.setattr(runner, "read_observation", deleted_meanwhile)
    done = run(job)

    assert done.state == Job.State.FAILED
    assert "was deleted while its store was read before this job" in done.error, done.error
    assert "internal error" not in done.error


def test_a_job_naming_another_hosts_backend_reads_nothing_of_it(host_row, swap_root):
    """A job row of this host may name any backend id (another machine wrote it): the
    settle reads only this host's own backends (review 169/4)."""
    other = Host.objects.create(name="elsewhere")
    theirs = backend_on(other, swap_root / "theirs", observed_state="active")
    seen_at = theirs.observed_at
    job = running(theirs, boot_id="another-boot")
    Job.objects.filter(pk=job.pk).update(host=host_row)

    assert settle_orphans(host_row) == 1

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.error.endswith(f"this is boot {THIS_BOOT})"), job.error
    row = Backend.objects.get(pk=theirs.pk)
    assert (row.observed_state, row.observed_at) == ("active", seen_at)


def test_a_failed_job_with_no_backend_says_nothing_of_one(host_row):
    """The sweep elsewhere reads nothing: a job with a backend is told it will be read
    before its next job; one with none is told nothing of a backend (review 170/4)."""
    job = Job.objects.create(
        kind=Job.Kind.DISCOVER, host=host_row, state=Job.State.RUNNING,
        started_at=timezone.now(), worker="w@x", boot_id=THIS_BOOT,
    )  # fmt: skip
    Job.objects.filter(pk=job.pk).update(heartbeat_at=Now() - timedelta(seconds=300))

    assert tasks.sweep()["failed"] == 1

    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "backend" not in job.error, job.error
