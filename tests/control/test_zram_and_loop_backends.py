"""zram and loop backends through a real worker: made, activated, deactivated, destroyed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backends import kernel
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import attached_loops, needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def run(backend, kind, actor, worker):
    job = wait_for_job(services.request_action(backend, kind, actor, {}), 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, f"{kind}: {job.error}\n{job.log}"
    if kind != Job.Kind.DESTROY:
        backend.refresh_from_db()
    return job


def test_a_zram_backend_lives_and_goes(zram_cleanup, worker, alice):
    actor = Actor(alice, Job.Via.API)
    job = services.create_backend(
        host=worker.host, kind="zram", name="z0", size_bytes=32 * MiB, actor=actor,
        params={}, priority=100,
    )  # fmt: skip
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.error
    backend = Backend.objects.get(name="z0")
    device = backend.state["device"]
    assert device.startswith("/dev/zram") and device != "/dev/zram0"
    assert backend.observed_state == Backend.Observed.READY
    assert int(Path(f"/sys/block/{os.path.basename(device)}/disksize").read_text()) == 32 * MiB

    run(backend, Job.Kind.ACTIVATE, actor, worker)
    area = kernel.find_area(device)
    assert area is not None and area.priority == 100
    assert backend.observed_state == Backend.Observed.ACTIVE

    run(backend, Job.Kind.DEACTIVATE, actor, worker)
    assert not kernel.is_active(device)
    run(backend, Job.Kind.DESTROY, actor, worker)
    assert not Path(f"/sys/block/{os.path.basename(device)}").exists()
    assert not Backend.objects.filter(name="z0").exists()


def test_a_loop_backend_lives_and_goes(worker, alice):
    actor = Actor(alice, Job.Via.API)
    path = worker.swap_root / "loop0.img"
    job = services.create_backend(
        host=worker.host, kind="loop", name="l0", size_bytes=16 * MiB, actor=actor,
        params={"path": str(path)}, priority=3,
    )  # fmt: skip
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.error
    backend = Backend.objects.get(name="l0")
    device = backend.state["device"]
    assert attached_loops()[device] == str(path)
    assert backend.swap_path == device

    run(backend, Job.Kind.ACTIVATE, actor, worker)
    area = kernel.find_area(device)
    assert area is not None and area.priority == 3
    assert backend.observed_state == Backend.Observed.ACTIVE

    run(backend, Job.Kind.DEACTIVATE, actor, worker)
    assert not kernel.is_active(device)
    run(backend, Job.Kind.DESTROY, actor, worker)
    assert device not in attached_loops()
    assert not path.exists()
