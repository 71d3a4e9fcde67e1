"""A file backend's whole life through a real worker, real Redis, PostgreSQL and the kernel."""

from __future__ import annotations

import os

import pytest

from backends import kernel
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import WorkerProcess, wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def act(backend: Backend, kind: str, actor: Actor, w: WorkerProcess, **params: object) -> Job:
    job = services.request_action(backend, kind, actor, params)
    return wait_for_job(job, 60, worker=w)


def test_it_provisions_activates_scans_deactivates_and_destroys(worker, alice):
    actor = Actor(alice, Job.Via.API)
    path = worker.swap_root / "swap0"
    job = services.create_backend(
        host=worker.host, kind="file", name="swap0", size_bytes=32 * MiB, actor=actor,
        params={"path": str(path)}, priority=7, label="e2e-swap",
    )  # fmt: skip
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.worker.startswith(worker.name) and job.progress == 100
    backend = Backend.objects.get(name="swap0")
    assert backend.observed_state == Backend.Observed.READY
    assert backend.header["label"] == "e2e-swap"
    assert str(backend.swap_uuid) == backend.header["uuid"]
    assert os.stat(path).st_size == 32 * MiB

    job = act(backend, Job.Kind.ACTIVATE, actor, worker)
    assert job.state == Job.State.SUCCEEDED, job.error
    area = kernel.find_area(str(path))
    assert area is not None and area.priority == 7
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.ACTIVE
    assert backend.active_priority == 7

    job = act(backend, Job.Kind.SCAN, actor, worker)
    assert job.state == Job.State.FAILED
    assert "active in /proc/swaps" in job.error and "deactivate it first" in job.error
    assert "Traceback" not in job.error
    assert kernel.is_active(str(path))

    job = act(backend, Job.Kind.DEACTIVATE, actor, worker)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert not kernel.is_active(str(path))
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.READY

    job = act(backend, Job.Kind.DESTROY, actor, worker)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert not path.exists()
    assert not Backend.objects.filter(name="swap0").exists()
    assert Job.objects.filter(backend_name="swap0").count() == 5
