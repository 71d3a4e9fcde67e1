"""Cancelling a running scan: the worker stops at its next check, the job says cancelled,
the header is unchanged and the backend is free for the next job."""

from __future__ import annotations

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_running_scan_stops_when_cancelled(worker, alice):
    actor = Actor(alice, Job.Via.API)
    job = services.create_backend(
        host=worker.host, kind="file", name="c", size_bytes=512 << 20, actor=actor,
        params={"path": str(worker.swap_root / "c")}, label="still",
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name="c")
    scan = services.request_action(backend, Job.Kind.SCAN, actor, {"patterns": 4})
    wait_until(
        lambda: Job.objects.filter(pk=scan.pk, state=Job.State.RUNNING, progress__gte=3).exists(),
        30,
        "the scan to be under way",
    )
    assert services.cancel_job(scan, actor) is False  # running: asked, not yet done
    scan = wait_for_job(scan, 30, worker=worker)
    assert scan.state == Job.State.CANCELLED, scan.error
    assert scan.progress < 100
    backend.refresh_from_db()
    assert backend.header["label"] == "still"
    assert backend.observed_state == Backend.Observed.READY
    job = services.request_action(backend, Job.Kind.ACTIVATE, actor, {})
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
