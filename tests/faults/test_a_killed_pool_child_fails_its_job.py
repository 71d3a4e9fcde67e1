"""The production pool (prefork, concurrency 2): the child process running a scan is killed
with SIGKILL. Celery starts another child and the message comes back, but the job is not run
twice; its worker no longer says it runs it, so the host's worker fails it with the reason
within the stale window (SWAPADMIN_JOB_STALE_SECONDS, 10 s in the tests), reads the backend
again from the kernel, and the backend takes its next job."""

from __future__ import annotations

import os
import signal

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.faults.pause import JobGate, hold_scan_between_chunks, in_another_thread
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def test_the_job_fails_with_the_reason_and_the_backend_takes_its_next_job(start_worker, alice):
    actor = Actor(alice, Job.Via.API)
    w = start_worker(pool="prefork")
    job = services.create_backend(
        host=w.host, kind="file", name="k0", size_bytes=64 * MiB, actor=actor,
        params={"path": str(w.swap_root / "k0")},
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=w).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name="k0", host=w.host)
    with JobGate(lambda j: j.kind == Job.Kind.SCAN) as gate:
        in_another_thread(
            lambda: services.request_action(backend, Job.Kind.SCAN, actor, {"patterns": 4})
        )
        # Held between two chunks of pages, whatever the disk's speed.
        held = hold_scan_between_chunks(gate)
        child = held.worker_pid
        assert child and child != w.pid  # a pool child runs it, not the main process
        os.kill(child, signal.SIGKILL)
    scan = gate.job
    scan = wait_for_job(scan, 60, worker=w)
    assert scan.state == Job.State.FAILED
    assert f"the worker running it stopped (pid {child}" in scan.error, scan.error
    assert "no heartbeat from it" in scan.error
    assert w.alive()
    backend.refresh_from_db()
    assert not backend.reread_before_next_job  # read again on the host already
    again = wait_for_job(services.request_action(backend, Job.Kind.SCAN, actor), 120, worker=w)
    assert again.state == Job.State.SUCCEEDED, again.error
    assert again.worker_pid != child
