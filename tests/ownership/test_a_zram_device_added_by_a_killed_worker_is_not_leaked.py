"""A worker killed with SIGKILL in the middle of a zram provision: the device is added and
configured, and the worker waits to record it as the backend's store (``claim_store``, held
by a row lock), before any byte is written. The device exists only on the host; had the
worker kept its state to the end of the job, nothing would know of it now. It saved the
state the moment it added the device, so the row names it (by number and disk sequence),
and destroying the backend, with the host's next worker, removes it.

The backend's row is locked from before the job is dispatched. The worker's first write to
it is that state (``plugins.save_state``): it is let through, and the row locked again right
behind it, so the worker stops at its next write, the store claim."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from backends.store import boot_id
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.faults.pause import RowLock, blocked_on, queue_with_row_locked
from tests.fixtures import workers
from tests.fixtures.by_hand import zram_devices, zram_of
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job, wait_until
from tests.ownership.conftest import MiB, worker_waits_at_store_claim

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

#: A disksize no other test uses: a zram device of this size that appears is this test's.
SIZE = 16 * MiB + 13 * 4096
SAVE_STATE = 'UPDATE "core_backend" SET "state"'
LOCK_BACKEND = (
    "SELECT b.id FROM core_backend b JOIN core_host h ON h.id = b.host_id "
    "WHERE b.name = %s AND h.name = %s FOR UPDATE OF b"
)


def let_one_write_through(lock: RowLock, backend_name: str, host_name: str) -> RowLock:
    """Let the write waiting on ``lock`` go on, and hold the row again right after it: a
    second lock queues behind the waiting writer before ``lock`` lets go, and PostgreSQL
    grants a row's lock in the order it was asked for. Returns the new lock."""
    successor = RowLock()
    successor.conn = psycopg.connect(workers.test_database_url(), autocommit=False)
    pid, failed = successor.pid, []

    def take() -> None:
        try:
            assert successor.conn is not None
            successor.conn.execute(LOCK_BACKEND, (backend_name, host_name)).fetchone()
        except Exception as e:  # reported below
            failed.append(e)

    taker = threading.Thread(target=take, name="backend-row-lock", daemon=True)
    taker.start()
    try:
        wait_until(lambda: workers.blocked(pid), 30, "the next lock to queue behind the worker")
        lock.release()
        taker.join(30)
        assert not taker.is_alive() and not failed, f"the backend row's lock: {failed}"
    except BaseException:
        successor.release()
        raise
    return successor


def test_destroy_removes_the_device_a_killed_provision_added(start_worker, alice):
    actor = Actor(alice, Job.Via.API)
    first = start_worker(pool="prefork")
    with zram_devices(fallback_size=SIZE) as zram:
        lock = RowLock()
        try:
            job = queue_with_row_locked(
                lock, "z0", first.name,
                lambda: services.create_backend(
                    host=first.host, kind="zram", name="z0", size_bytes=SIZE, actor=actor,
                ),
            )  # fmt: skip
            wait_until(
                lambda: blocked_on(lock, SAVE_STATE), 60,
                "the worker to save the device it added",
            )  # fmt: skip
            lock = let_one_write_through(lock, "z0", first.name)
            wait_until(worker_waits_at_store_claim, 60, "the worker to claim its store")
            backend = Backend.objects.get(name="z0", host=first.host)
            state = backend.state
            zram.note(state)
            first.kill()
        finally:
            lock.release()

        # The row names the device the killed worker added, as it is on the host.
        assert not first.alive()
        name = Path(state["device"]).name
        device = zram_of(name)
        assert device.alive() and state["boot_id"] == boot_id()
        assert state["store"]["diskseq"] == device.diskseq
        assert state["store"]["devnum"] == device.attr("dev")
        assert device.attr("disksize") == str(SIZE)
        assert backend.provisioned_at is None and not backend.store_key

        second = start_worker(name=first.name, pool="prefork")
        job = wait_for_job(job, 60, worker=second)
        assert job.state == Job.State.FAILED and "stopped" in job.error, job.error
        gone = services.request_action(backend, Job.Kind.DESTROY, actor)
        gone = wait_for_job(gone, 60, worker=second)
        assert gone.state == Job.State.SUCCEEDED, gone.error
        assert not device.alive(), gone.log
        assert not Path(f"/sys/block/{name}").exists() or zram_of(name).diskseq != device.diskseq
        assert not Backend.objects.filter(pk=backend.pk).exists()
