"""A priority applied now to an active file backend, through a real worker, while the job
waits for the host's memory lock (held here by the test, as another job's long swapoff
would): meanwhile the swap root is renamed away (an active swap file itself cannot be
renamed, its directory can) and a new one put in its place, where the backend's path is a
link to another active swap area, not swapadmin's. The swapoff and the swapon go through
the descriptor proven before the wait, so the edit moves this backend's own area to the new
priority and never touches the other one. Before, the swapoff named the path again after
the wait and turned off the other area, the sysadmin's, while this backend's stayed on."""

from __future__ import annotations

import os

import pytest

from backends import kernel
from swapadmin.core import edits, services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.swapoff_race import (
    active_inodes,
    identity,
    memory_lock_held,
    someone_elses_swap,
)
from tests.fixtures.workers import WorkerProcess, wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_edit_moves_its_own_area_and_leaves_the_other_on(worker: WorkerProcess, alice) -> None:
    actor = Actor(alice, Job.Via.API)
    root = worker.swap_root
    ours = root / "own0"
    moved_root = root.with_name(root.name + ".moved")
    decoy = root.parent / "decoy"
    job = services.create_backend(
        host=worker.host, kind="file", name="own0", size_bytes=16 << 20, actor=actor,
        params={"path": str(ours)}, priority=5,
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED, job.log
    backend = Backend.objects.get(pk=job.backend_id)
    on = wait_for_job(services.request_action(backend, "activate", actor), 60, worker=worker)
    assert on.state == Job.State.SUCCEEDED, on.log
    backend.refresh_from_db()
    our_id = identity(ours)
    try:
        with someone_elses_swap(decoy):
            decoy_id = identity(decoy)
            with memory_lock_held(worker.data_dir):
                done = edits.edit_backend(backend, actor, {"priority": 9, "apply": "now"})
                assert done.job is not None
                wait_until(
                    lambda: "waiting for another swapoff" in Job.objects.get(pk=done.job.pk).log,
                    60, "the edit to wait for the memory lock",
                )  # fmt: skip
                os.rename(root, moved_root)
                root.mkdir()
                os.symlink(decoy, ours)
            job = wait_for_job(done.job, 60, worker=worker)
            now = active_inodes()
            # The sysadmin's area is on, at its own priority, whatever the job did.
            assert now.get(decoy_id) == 1, (now, job.log)
            # This backend's own area carries the new priority.
            assert job.state == Job.State.SUCCEEDED, job.log
            assert now.get(our_id) == 9, (now, job.log)
    finally:
        if moved_root.exists():
            ours.unlink(missing_ok=True)
            root.rmdir()
            os.rename(moved_root, root)
        if kernel.find_area(str(ours)) is not None:
            off = services.request_action(backend, "deactivate", actor)
            assert wait_for_job(off, 60, worker=worker).state == Job.State.SUCCEEDED
