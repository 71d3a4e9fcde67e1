"""A worker killed with SIGKILL in the middle of a provision: after ``swapfile(True)`` made,
marked and allocated the file, while the worker records it as the backend's store and before
``mkswap`` wrote its header. The next worker of the host fails the job with the reason, reads
the backend again from the disk (a file without a swap header: an error that says to
provision it again), and provisioning again completes the same backend."""

from __future__ import annotations

import os

import pytest

from backends import kernel
from backends.plugins.file import MARK_NAME
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.faults.pause import RowLock, blocked_on, queue_with_row_locked, waiting_on
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20
SIZE = 32 * MiB


def has_swap_signature(path: os.PathLike[str]) -> bool:
    with open(path, "rb") as f:
        f.seek(4096 - 10)
        return f.read(10) == b"SWAPSPACE2"


def test_the_job_fails_with_the_reason_and_the_backend_can_be_provisioned_again(
    start_worker, alice
):
    actor = Actor(alice, Job.Via.API)
    first = start_worker()
    path = first.swap_root / "s0"
    lock, job_lock = RowLock(), RowLock()
    try:
        job = queue_with_row_locked(
            lock, "s0", first.name,
            lambda: services.create_backend(
                host=first.host, kind="file", name="s0", size_bytes=SIZE, actor=actor,
                params={"path": str(path)}, label="killed",
            ),
        )  # fmt: skip
        backend = Backend.objects.get(name="s0")
        wait_for_job(job, 30, until=(Job.State.RUNNING,), worker=first)
        # The file is made, marked and allocated, still unnamed (O_TMPFILE); the worker
        # waits on the row to record it as the backend's store (plugins.claim_store).
        try:
            wait_until(
                lambda: blocked_on(lock, 'UPDATE "core_backend" SET "store_key"'), 30,
                "the worker to record its store",
            )  # fmt: skip
        except AssertionError as e:
            waiting = waiting_on(lock)
            log = Job.objects.get(pk=job.pk).log
            raise AssertionError(
                f"{e}; waiting on the row: {waiting}; job log:\n{log}\n"
                f"worker log:\n{first.log()[-3000:]}"
            ) from None
        assert not path.exists()  # a crash here would leave nothing behind
        # With the job's row held, the backend's let go: the file gets its name, and the
        # worker waits to log its next step, before mkswap.
        job_lock.take_job(job.pk)
        lock.release()
        wait_until(
            lambda: blocked_on(job_lock, 'UPDATE "core_job" SET "log"'), 30,
            "the worker to log its next step",
        )  # fmt: skip
        assert path.stat().st_size == SIZE
        assert os.getxattr(path, MARK_NAME) == f"swapadmin:made:{backend.uuid}".encode()
        assert not has_swap_signature(path)
        claimed_by = Job.objects.get(pk=job.pk).worker_pid  # a pool child of ``first``
        first.kill()
    finally:
        job_lock.release()
        lock.release()

    assert not first.alive()
    assert Job.objects.get(pk=job.pk).state == Job.State.RUNNING  # nobody has noticed yet

    second = start_worker(name=first.name)
    job = wait_for_job(job, 30, worker=second)
    assert job.state == Job.State.FAILED
    assert f"pid {claimed_by}" in job.error and "stopped" in job.error
    assert "Traceback" not in job.error
    backend = Backend.objects.get(name="s0")
    assert backend.observed_state == Backend.Observed.ERROR
    assert "no usable swap header" in backend.observed_error
    # Made by swapadmin, not adopted: its provision can be asked again.
    assert backend.observed_error.endswith("; provision the backend again.")
    assert backend.provisioned_at is None  # only provision, destroy and check until then
    assert not kernel.is_active(str(path))

    # Nothing accepted is lost: the same backend is provisioned again, from the file it has.
    again = services.request_action(backend, Job.Kind.PROVISION, actor)
    again = wait_for_job(again, 30, worker=second)
    assert again.state == Job.State.SUCCEEDED, again.error
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.READY
    assert backend.header["label"] == "killed"
    assert backend.header["uuid"] == str(backend.swap_uuid)  # the one chosen at creation
    assert backend.provisioned_at is not None
    assert has_swap_signature(path)

    gone = wait_for_job(services.request_action(backend, Job.Kind.DESTROY, actor), 30)
    assert gone.state == Job.State.SUCCEEDED, gone.error
    assert not path.exists()
