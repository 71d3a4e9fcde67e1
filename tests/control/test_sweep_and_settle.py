"""Finding running jobs whose worker is gone: by the worker's own word (its heartbeat, in the
database's clock), never by a pid; on the host at start (a job of another boot is dead at
once) and from anywhere (the periodic sweep). Also: a cancel no worker confirms, and a
queued job whose message was lost."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.db.models.functions import Now
from django.utils import timezone

from swapadmin.core import runner, services, signing, tasks
from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.orphans import settle_orphans
from swapadmin.core.services import Actor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]

THIS_BOOT = Path("/proc/sys/kernel/random/boot_id").read_text().strip()


@pytest.fixture(autouse=True)
def windows(settings, monkeypatch):
    settings.SWAPADMIN_JOB_STALE_SECONDS = 60
    settings.SWAPADMIN_CANCEL_GRACE_SECONDS = 60
    # The suite's PostgreSQL may have started seconds ago (a fresh CI machine), and right
    # after a database start nobody is judged: these tests speak of a database long up.
    # The start itself has its own test below, and a real restart is in tests/faults.
    monkeypatch.setattr("swapadmin.core.orphans.database_up_for", lambda: 3600.0)


def running(host, backend=None, *, silent_for: float = 0, **kw) -> Job:
    kw.setdefault("boot_id", THIS_BOOT)
    job = Job.objects.create(
        kind=Job.Kind.SCAN, host=host, backend=backend, state=Job.State.RUNNING,
        started_at=timezone.now(), worker="w@x", **kw,
    )  # fmt: skip
    Job.objects.filter(pk=job.pk).update(heartbeat_at=Now() - timedelta(seconds=silent_for))
    return job


def a_backend(host, swap_root) -> Backend:
    return Backend.objects.create(
        host=host, kind="file", name="s", params={"path": str(swap_root / "s")},
        size_bytes=16 << 20, observed_state=Backend.Observed.ACTIVE,
    )  # fmt: skip


def test_a_silent_job_is_failed_by_the_sweep_and_a_speaking_one_is_not(host_row, swap_root):
    backend = a_backend(host_row, swap_root)
    silent = running(host_row, backend, silent_for=300, worker_pid=4242)
    speaking = running(host_row, silent_for=1)
    assert tasks.sweep()["failed"] == 1
    silent.refresh_from_db()
    speaking.refresh_from_db()
    assert silent.state == Job.State.FAILED
    assert "stopped (pid 4242 on w@x): no heartbeat from it for more than 60 s" in silent.error
    assert speaking.state == Job.State.RUNNING
    backend.refresh_from_db()
    assert backend.reread_before_next_job  # the next job reads it again first


def test_a_live_pid_does_not_keep_a_silent_job_alive(host_row):
    """Liveness is the worker's word: a process that happens to hold the pid (this very
    test, after a crash and a restart) says nothing about the job."""
    job = running(host_row, silent_for=300, worker_pid=os.getpid())
    assert settle_orphans(host_row) == 1
    job.refresh_from_db()
    assert job.state == Job.State.FAILED


def test_a_job_of_another_boot_is_failed_at_once_on_the_host(host_row, swap_root):
    """After a reboot nothing of the job runs, whatever holds its old pid now, and however
    fresh its last heartbeat: the host's worker fails it as soon as it starts."""
    backend = a_backend(host_row, swap_root)
    job = running(host_row, backend, worker_pid=os.getpid(), boot_id="another-boot")
    assert settle_orphans(host_row) == 1
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "its host rebooted while it ran (claimed in boot another-boot" in job.error
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.ABSENT  # read again: no file
    assert not backend.reread_before_next_job


def test_just_after_the_database_restarted_nobody_is_judged(host_row, monkeypatch):
    """No heartbeat could be written while the database was down: one window after it is
    back, the jobs that still say nothing are failed, not before."""
    job = running(host_row, silent_for=300)
    monkeypatch.setattr("swapadmin.core.orphans.database_up_for", lambda: 5.0)
    assert tasks.sweep()["failed"] == 0
    monkeypatch.setattr("swapadmin.core.orphans.database_up_for", lambda: 61.0)
    assert tasks.sweep()["failed"] == 1
    job.refresh_from_db()
    assert job.state == Job.State.FAILED


def test_a_cancel_no_worker_confirms_fails_the_job_and_frees_the_backend(
    host_row, swap_root, alice
):
    backend = a_backend(host_row, swap_root)
    job = running(host_row, backend)
    services.cancel_job(job, Actor(alice, "api"))
    assert tasks.sweep()["failed"] == 0  # within the grace
    Job.objects.filter(pk=job.pk).update(cancel_requested_at=Now() - timedelta(seconds=61))
    assert tasks.sweep()["failed"] == 1
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "its worker did not confirm within 60 s" in job.error
    assert services.live_job_for(backend) is None  # freed
    backend.refresh_from_db()
    assert backend.reread_before_next_job


def test_the_sweep_says_why_queued_jobs_of_an_offline_host_wait(host_row):
    Host.objects.filter(pk=host_row.pk).update(last_heartbeat=timezone.now() - timedelta(hours=1))
    waiting = Job.objects.create(kind=Job.Kind.DISCOVER, host=host_row, dispatched_at=Now())
    assert tasks.sweep()["offline_hosts"] >= 1
    waiting.refresh_from_db()
    assert "testhost is offline" in waiting.waiting_reason


def test_the_attempt_count_is_the_rows_not_the_messages(host_row):
    job = Job.objects.create(kind=Job.Kind.TUNE, host=host_row, attempt=2)
    signing.sign_job(job.pk)
    tasks.run_job.run(job.pk, attempt=0)  # a message claiming a first attempt
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    assert f"attempt 3 of {runner.MAX_RETRIES + 1}" in job.log
