"""A priority applied now to an active loop or zram backend, through a real worker: the
swapoff and the swapon go through the proven descriptor of the block device (not its path),
and /proc/swaps shows the device at the new priority at once; then it goes as it came."""

from __future__ import annotations

import pytest

from backends import kernel
from swapadmin.core import edits, services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import WorkerProcess, wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def run(backend: Backend, kind: str, actor: Actor, worker: WorkerProcess) -> None:
    job = wait_for_job(services.request_action(backend, kind, actor), 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.log


@pytest.mark.parametrize("kind", ["loop", "zram"])
def test_the_device_is_active_at_the_new_priority(
    zram_cleanup: None, worker: WorkerProcess, alice, kind: str
) -> None:
    actor = Actor(alice, Job.Via.API)
    params = {"path": str(worker.swap_root / "pl.img")} if kind == "loop" else {}
    job = services.create_backend(
        host=worker.host, kind=kind, name=f"p{kind}", size_bytes=16 * MiB, actor=actor,
        params=params, priority=4,
    )  # fmt: skip
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.log
    backend = Backend.objects.get(pk=job.backend_id)
    device = backend.state["device"]
    run(backend, Job.Kind.ACTIVATE, actor, worker)
    try:
        backend.refresh_from_db()
        assert kernel.find_area(device).priority == 4
        done = edits.edit_backend(backend, actor, {"priority": 44, "apply": "now"})
        assert done.job is not None
        job = wait_for_job(done.job, 60, worker=worker)
        assert job.state == Job.State.SUCCEEDED, job.log
        assert job.result["applied"] is True and job.result["priority"] == 44, job.log
        area = kernel.find_area(device)
        assert area is not None and area.priority == 44
        assert "/proc/self/fd" not in job.log
    finally:
        backend.refresh_from_db()
        if kernel.find_area(device) is not None:
            run(backend, Job.Kind.DEACTIVATE, actor, worker)
        run(backend, Job.Kind.DESTROY, actor, worker)
