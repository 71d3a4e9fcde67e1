"""Cancelling a running scan, asked while the scan is held between two runs of pages
(tests/faults/pause.py): the worker stops at its next check, the job says cancelled, the
header is unchanged and the backend is free for the next job."""

from __future__ import annotations

import pytest

from swapadmin.core import services
from swapadmin.core.context import THROTTLE_SECONDS
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.faults.pause import JobGate, hold_scan_between_chunks, in_another_thread
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_running_scan_stops_when_cancelled(worker, alice):
    actor = Actor(alice, Job.Via.API)
    job = services.create_backend(
        host=worker.host, kind="file", name="c", size_bytes=512 << 20, actor=actor,
        params={"path": str(worker.swap_root / "c")}, label="still",
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name="c")
    answers: list[services.Cancel] = []
    with JobGate(lambda job: job.kind == Job.Kind.SCAN and job.backend_id == backend.pk) as gate:
        in_another_thread(
            lambda: services.request_action(backend, Job.Kind.SCAN, actor, {"patterns": 4})
        )
        held = hold_scan_between_chunks(gate)
        assert held.state == Job.State.RUNNING
        # The cancel is in the row from the moment the scan goes on. The scan's page loop
        # checks for one at most THROTTLE_SECONDS apart; with each later write held that
        # long, its next check sees it, however fast the rest of the scan is. (After the
        # handler nothing is cancelled: a scan that returned is done, review 214/2.)
        gate.let_through(committing=lambda: answers.append(services.cancel_job(held, actor)))
        scan = gate.run_out(each_at_least=THROTTLE_SECONDS)
    assert answers == [services.Cancel.ASKED]  # running: not yet done
    assert scan.state == Job.State.CANCELLED, scan.error
    assert scan.progress < 100
    backend.refresh_from_db()
    assert backend.header["label"] == "still"
    assert backend.observed_state == Backend.Observed.READY
    job = services.request_action(backend, Job.Kind.ACTIVATE, actor, {})
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
