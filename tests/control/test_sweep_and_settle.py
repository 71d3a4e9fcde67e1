"""Finding jobs whose worker died: on the host (settle_orphans, by pid) and from anywhere
(the periodic sweep, by heartbeat age)."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone

from swapadmin.core import tasks
from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.worker import settle_orphans

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def running(host, backend=None, **kw) -> Job:
    return Job.objects.create(
        kind=Job.Kind.SCAN, host=host, backend=backend, state=Job.State.RUNNING,
        started_at=timezone.now(), worker="w@x", **kw,
    )  # fmt: skip


def test_a_job_whose_process_is_gone_is_failed_and_its_backend_read_again(host_row, swap_root):
    backend = Backend.objects.create(
        host=host_row, kind="file", name="s", params={"path": str(swap_root / "s")},
        size_bytes=16 << 20, observed_state=Backend.Observed.ACTIVE,
    )  # fmt: skip
    pid = dead_pid()
    job = running(host_row, backend, worker_pid=pid)
    assert settle_orphans(host_row) == 1
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert f"the worker running it stopped (pid {pid} on w@x" in job.error
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.ABSENT  # no file: nothing was made


def test_a_job_whose_process_lives_keeps_running_with_a_fresh_heartbeat(host_row):
    old = timezone.now() - timedelta(minutes=5)
    job = running(host_row, worker_pid=os.getpid(), heartbeat_at=old)
    assert settle_orphans(host_row) == 0
    job.refresh_from_db()
    assert job.state == Job.State.RUNNING and job.heartbeat_at > old


def test_the_sweep_fails_jobs_without_a_heartbeat_and_says_why_queued_jobs_wait(host_row):
    stale = timezone.now() - timedelta(minutes=5)
    old = running(host_row, worker_pid=os.getpid(), heartbeat_at=stale)
    fresh = running(host_row, worker_pid=os.getpid(), heartbeat_at=timezone.now())
    Host.objects.filter(pk=host_row.pk).update(last_heartbeat=stale)
    waiting = Job.objects.create(kind=Job.Kind.DISCOVER, host=host_row, dispatched_at=stale)
    result = tasks.sweep()
    assert result["failed"] == 1 and result["offline_hosts"] >= 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    waiting.refresh_from_db()
    assert old.state == Job.State.FAILED and "sent no heartbeat" in old.error
    assert fresh.state == Job.State.RUNNING
    assert "testhost is offline" in waiting.waiting_reason
