"""An admin cancels a running scan whose worker cannot answer (its pool child stopped with
SIGSTOP between two chunks of pages, as a worker stuck in a long system call). Past the grace
(SWAPADMIN_CANCEL_GRACE_SECONDS) the sweep fails the job and frees the backend: the next
action is accepted at once, waits on the host for the stuck job's lock on the backend, and
reads the backend again from the kernel before it runs."""

from __future__ import annotations

import os
import signal

import pytest

from swapadmin.core import services, tasks
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.faults.pause import JobGate, a_scan_held_in_a_pool_child
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_job_is_failed_and_the_next_one_runs_after_a_fresh_look(start_worker, alice, settings):
    settings.SWAPADMIN_CANCEL_GRACE_SECONDS = 0
    actor = Actor(alice, Job.Via.API)
    w = start_worker(pool="prefork")
    with JobGate(lambda j: j.kind == Job.Kind.SCAN) as gate:
        child = a_scan_held_in_a_pool_child(gate, w, actor, "x0").worker_pid
        os.kill(child, signal.SIGSTOP)
    scan = gate.job
    backend = Backend.objects.get(pk=scan.backend_id)
    try:
        services.cancel_job(scan, actor)
        wait_until(lambda: tasks.sweep()["failed"] == 1, 30, "the sweep to fail the scan")
        failed = Job.objects.get(pk=scan.pk)
        assert failed.state == Job.State.FAILED
        assert "its worker did not confirm within 0 s" in failed.error
        # Freed: the next action is accepted now, though the scan's process still holds
        # the backend's lock on the host; it waits for it there.
        check = services.request_action(backend, Job.Kind.ACTIVATE, actor)
        wait_until(
            lambda: "holds the lock" in Job.objects.get(pk=check.pk).waiting_reason,
            60, "the next job to wait for the stopped one's lock on the host",
        )  # fmt: skip
    finally:
        os.kill(child, signal.SIGCONT)
    nxt = wait_for_job(check, 120, worker=w)
    assert nxt.state == Job.State.SUCCEEDED, nxt.error
    backend.refresh_from_db()
    assert not backend.reread_before_next_job
    assert backend.observed_state == Backend.Observed.ACTIVE
    off = wait_for_job(services.request_action(backend, Job.Kind.DEACTIVATE, actor), 60)
    assert off.state == Job.State.SUCCEEDED
