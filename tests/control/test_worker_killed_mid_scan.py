"""A worker killed with SIGKILL in the middle of a scan (held between two runs of pages,
tests/faults/pause.py): the job is marked failed with the reason, and the backend's state
is read again from the kernel."""

from __future__ import annotations

import signal

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.faults.pause import JobGate, hold_scan_between_chunks, in_another_thread
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_killed_workers_job_fails_and_its_backend_settles(start_worker, alice):
    actor = Actor(alice, Job.Via.API)
    first = start_worker()
    path = first.swap_root / "big"
    job = services.create_backend(
        host=first.host, kind="file", name="big", size_bytes=512 << 20, actor=actor,
        params={"path": str(path)}, label="kept",
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=first).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name="big")
    # Something the settling must correct: the row claims the area is active.
    Backend.objects.filter(pk=backend.pk).update(observed_state=Backend.Observed.ACTIVE)

    with JobGate(lambda job: job.kind == Job.Kind.SCAN and job.backend_id == backend.pk) as gate:
        in_another_thread(
            lambda: services.request_action(backend, Job.Kind.SCAN, actor, {"patterns": 4})
        )
        scan = hold_scan_between_chunks(gate)
        pid = scan.worker_pid
        assert pid == first.pid
        first.kill(signal.SIGKILL)
    assert Job.objects.get(pk=scan.pk).state == Job.State.RUNNING  # nobody has noticed yet

    # The host's next worker settles what the dead one left.
    second = start_worker(name=first.name)
    scan = wait_for_job(scan, 20, worker=second)
    assert scan.state == Job.State.FAILED
    assert f"pid {pid}" in scan.error and "stopped" in scan.error
    assert scan.finished_at is not None
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.READY, second.log()
    assert backend.header["label"] == "kept"  # a scan never writes the header until it ends

    # And the backend is usable again.
    job = services.request_action(backend, Job.Kind.ACTIVATE, actor, {})
    assert wait_for_job(job, 60, worker=second).state == Job.State.SUCCEEDED
