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
from tests.faults.pause import JobGate, a_scan_held_in_a_pool_child
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_job_fails_with_the_reason_and_the_backend_takes_its_next_job(start_worker, alice):
    actor = Actor(alice, Job.Via.API)
    w = start_worker(pool="prefork")
    with JobGate(lambda j: j.kind == Job.Kind.SCAN) as gate:
        child = a_scan_held_in_a_pool_child(gate, w, actor, "k0").worker_pid
        os.kill(child, signal.SIGKILL)
    scan = gate.job
    scan = wait_for_job(scan, 60, worker=w)
    assert scan.state == Job.State.FAILED
    assert f"the worker running it stopped (pid {child}" in scan.error, scan.error
    assert "no heartbeat from it" in scan.error
    assert w.alive()
    backend = Backend.objects.get(pk=scan.backend_id)
    assert not backend.reread_before_next_job  # read again on the host already
    again = wait_for_job(services.request_action(backend, Job.Kind.SCAN, actor), 120, worker=w)
    assert again.state == Job.State.SUCCEEDED, again.error
    assert again.worker_pid != child
