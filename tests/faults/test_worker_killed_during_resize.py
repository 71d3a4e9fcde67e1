"""A worker killed with SIGKILL in the middle of resizing an active area: after swapoff and
the file's growth, before mkswap and swapon. With no worker of the host left, the periodic
sweep fails the job once its heartbeat is stale; the host's next worker reads the area again
(the kernel's truth: inactive, the file at its new size, the old header still valid); and
asking for the resize again finishes it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends import header, kernel
from backends.plugins.file import FileBackend
from backends.policy import Policy
from swapadmin.core import services, tasks
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.faults.pause import RowLock, blocked_on, queue_with_row_locked
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20
OLD, NEW = 16 * MiB, 24 * MiB
#: The statements the worker is stopped at: recording the store it is about to write
#: (``plugins.claim_store``), and logging the step after the resize (mkswap).
RECORD_STORE = 'UPDATE "core_backend" SET "store_key"'
LOG_STEP = 'UPDATE "core_job" SET "log"'


def last_page(path, swap_root) -> int:
    with FileBackend(
        {"path": str(path)}, size_bytes=path.stat().st_size, policy=Policy(swap_roots=(swap_root,))
    ) as plugin:
        return header.read_header(plugin).last_page


def test_the_sweep_fails_the_job_and_a_second_resize_finishes_it(start_worker, alice, settings):
    actor = Actor(alice, Job.Via.API)
    first = start_worker()
    path = first.swap_root / "r0"
    job = services.create_backend(
        host=first.host, kind="file", name="r0", size_bytes=OLD, actor=actor,
        params={"path": str(path)}, priority=5,
    )  # fmt: skip
    assert wait_for_job(job, 30, worker=first).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name="r0")
    job = wait_for_job(services.request_action(backend, Job.Kind.ACTIVATE, actor), 30)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert kernel.is_active(str(path))

    backend_lock, job_lock = RowLock(), RowLock()
    try:
        job = queue_with_row_locked(
            backend_lock, "r0", first.name,
            lambda: services.request_action(backend, Job.Kind.RESIZE, actor, {"size_bytes": NEW}),
        )  # fmt: skip
        # swapoff done; before the first byte the worker records the store it opened, and
        # waits on the row: the file is not grown yet.
        wait_until(
            lambda: blocked_on(backend_lock, RECORD_STORE), 30, "the worker to record its store"
        )
        assert not kernel.is_active(str(path))
        assert path.stat().st_size == OLD
        # With the job's row held, the backend's is let go: the worker grows the file,
        # records the new size and waits to log its next step, before mkswap.
        job_lock.take_job(job.pk)
        backend_lock.release()
        wait_until(lambda: blocked_on(job_lock, LOG_STEP), 30, "the worker to log its next step")
        assert path.stat().st_size == NEW
        assert not kernel.is_active(str(path))
        assert last_page(path, first.swap_root) == OLD // 4096 - 1
        claimed_by = Job.objects.get(pk=job.pk).worker_pid  # a pool child of ``first``
        first.kill()
    finally:
        job_lock.release()
        backend_lock.release()

    # The sweep (django-celery-beat runs it every SWAPADMIN_SWEEP_SECONDS) notices the
    # heartbeat has stopped; here it runs as soon as the last one is a second old.
    settings.SWAPADMIN_OFFLINE_AFTER_SECONDS = 1.0
    wait_until(
        lambda: Job.objects.filter(
            pk=job.pk, heartbeat_at__lt=timezone.now() - timedelta(seconds=1)
        ).exists(),
        10, "the killed worker's heartbeat to go stale",
    )  # fmt: skip
    settings.SWAPADMIN_JOB_STALE_SECONDS = 1
    assert tasks.sweep()["failed"] == 1
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert f"pid {claimed_by}" in job.error and "no heartbeat" in job.error
    assert "Traceback" not in job.error

    second = start_worker(name=first.name)  # reads every backend again from the host
    backend = wait_until(
        lambda: Backend.objects.filter(name="r0", observed_state="ready").first(), 20,
        "the backend to be read again",
    )  # fmt: skip
    assert backend.desired_state == Backend.Desired.ACTIVE  # what the user asked is kept
    assert backend.used_bytes == 0 and backend.active_priority is None
    assert backend.header["last_page"] == OLD // 4096 - 1
    assert not kernel.is_active(str(path))

    job = wait_for_job(
        services.request_action(backend, Job.Kind.RESIZE, actor, {"size_bytes": NEW}), 30,
        worker=second,
    )  # fmt: skip
    assert job.state == Job.State.SUCCEEDED, job.error
    assert last_page(path, first.swap_root) == NEW // 4096 - 1
    job = wait_for_job(services.request_action(backend, Job.Kind.DESTROY, actor), 30)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert not path.exists()
