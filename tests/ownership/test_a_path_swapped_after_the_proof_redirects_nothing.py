"""Between the worker's proof of a store and its first write, the swap file's name is given
to something else: a symlink to a file outside the swap root, or another regular file
renamed into place. The worker is held exactly there (its UPDATE of the store it proved
waits on a row lock) while the names change, then let go.

It writes through the descriptor it proved, so every byte lands in the backend's own file
(now under another name) and not one in the victims; the next look at the backend then
finds its path naming a store that is not its own.
"""

from __future__ import annotations

import os

import pytest

from backends.header import parse_header
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.faults.pause import RowLock, queue_with_row_locked
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job, wait_until
from tests.ownership.conftest import MiB, data_file, digest, worker_waits_at_store_claim

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PARAMS = {Job.Kind.BENCHMARK: {"seconds": 1}, Job.Kind.SCAN: {"patterns": 1}}


@pytest.mark.parametrize("swapped_in", ["symlink", "another file"])
@pytest.mark.parametrize("kind", list(PARAMS))
def test_the_writes_land_in_the_proven_file_only(kind, swapped_in, start_worker, alice, scratch):
    actor = Actor(alice, Job.Via.API)
    w = start_worker(pool="prefork")
    path = w.swap_root / "s0"
    job = services.create_backend(
        host=w.host, kind="file", name="s0", size_bytes=16 * MiB, actor=actor,
        params={"path": str(path)},
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=w).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name="s0", host=w.host)
    ours_before = digest(path)
    victim = scratch / "victim"  # outside the swap root
    victim_before = data_file(victim, 16 * MiB)
    moved = w.swap_root / "s0.moved"

    lock = RowLock()
    try:
        job = queue_with_row_locked(
            lock, "s0", w.name,
            lambda: services.request_action(backend, kind, actor, PARAMS[kind]),
        )  # fmt: skip
        wait_until(worker_waits_at_store_claim, 60, "the worker to stop after its proof")
        os.rename(path, moved)
        if swapped_in == "symlink":
            path.symlink_to(victim)
        else:
            os.rename(victim, path)
    finally:
        lock.release()

    job = wait_for_job(job, 60, worker=w)
    assert job.state == Job.State.SUCCEEDED, job.error
    victim_now = path if swapped_in == "another file" else victim
    assert digest(victim_now) == victim_before
    # The job wrote the file it proved: its pages changed, its header is still ours.
    assert digest(moved) != ours_before
    with open(moved, "rb") as f:
        assert parse_header(f.read(4096)).uuid == backend.swap_uuid
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.FOREIGN, backend.observed_error
