"""A new priority for an active file backend, through a real worker: applied now, the area
is swapped off (with the RAM check) and on again and /proc/swaps shows it at once; left for
the next activation, /proc/swaps keeps the old one until the area is activated again. With
the backend kept in the fstab, its line follows."""

from __future__ import annotations

import pytest

from backends import fstab, kernel
from swapadmin.core import edits, services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import WorkerProcess, wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def active_file(worker: WorkerProcess, actor: Actor, name: str, **fields: object) -> Backend:
    job = services.create_backend(
        host=worker.host, kind="file", name=name, size_bytes=16 * MiB, actor=actor,
        params={"path": str(worker.swap_root / name)}, **fields,
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(pk=job.backend_id)
    job = wait_for_job(services.request_action(backend, "activate", actor), 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.log
    backend.refresh_from_db()
    return backend


def priority_in_kernel(backend: Backend) -> int | None:
    area = kernel.find_area(str(backend.params["path"]))
    return area.priority if area else None


def deactivate(backend: Backend, actor: Actor, worker: WorkerProcess) -> None:
    job = wait_for_job(services.request_action(backend, "deactivate", actor), 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.log


def test_applied_now_the_kernel_shows_the_new_priority(worker: WorkerProcess, alice) -> None:
    actor = Actor(alice, Job.Via.API)
    backend = active_file(worker, actor, "prio0", priority=5, persist=True)
    try:
        assert priority_in_kernel(backend) == 5
        done = edits.edit_backend(backend, actor, {"priority": 321, "apply": "now"})
        assert done.job is not None
        job = wait_for_job(done.job, 60, worker=worker)
        assert job.state == Job.State.SUCCEEDED, job.log
        assert "swapoff" in job.log and job.result["applied"] is True
        assert priority_in_kernel(backend) == 321
        assert job.result["priority"] == 321
        backend.refresh_from_db()
        assert backend.priority == 321
        # The fstab line says the same for the next boot.
        (entry,) = [e for e in fstab.entries(worker.fstab) if e.spec == backend.params["path"]]
        assert "pri=321" in entry.options
    finally:
        deactivate(backend, actor, worker)


def test_left_for_the_next_activation_the_kernel_keeps_the_old_one_until_then(
    worker: WorkerProcess, alice
) -> None:
    actor = Actor(alice, Job.Via.API)
    backend = active_file(worker, actor, "prio1", priority=6)
    try:
        done = edits.edit_backend(backend, actor, {"priority": 77, "apply": "next_activation"})
        assert done.job is None  # nothing on the host changes now
        assert done.backend.priority == 77
        assert priority_in_kernel(backend) == 6
    finally:
        deactivate(backend, actor, worker)
    job = wait_for_job(services.request_action(backend, "activate", actor), 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.log
    try:
        assert priority_in_kernel(backend) == 77
    finally:
        deactivate(backend, actor, worker)
