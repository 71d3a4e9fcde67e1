"""A deactivate of an active file backend, through a real worker, while the job waits for
the host's memory lock (held by the test, as another job's long swapoff would): meanwhile
the swap root is renamed away and a new one put in its place, where the backend's path is a
link to a sysadmin's own active swap area. The swapoff goes through the descriptor proven
before the wait, so the backend's own area goes off and the sysadmin's stays on. Before,
the swapoff named the path again after the wait and turned off the sysadmin's area (the
same race the review of the edit found in apply-now; deactivate, destroy and resize share
the swapoff)."""

from __future__ import annotations

import os

import pytest

from backends import kernel
from swapadmin.core import services
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


def test_the_deactivate_turns_off_its_own_area_and_leaves_the_other_on(
    worker: WorkerProcess, alice
) -> None:
    actor = Actor(alice, Job.Via.API)
    root = worker.swap_root
    ours = root / "own1"
    moved_root = root.with_name(root.name + ".moved")
    decoy = root.parent / "decoy1"
    job = services.create_backend(
        host=worker.host, kind="file", name="own1", size_bytes=16 << 20, actor=actor,
        params={"path": str(ours)}, priority=5,
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED, job.log
    backend = Backend.objects.get(pk=job.backend_id)
    on = wait_for_job(services.request_action(backend, "activate", actor), 60, worker=worker)
    assert on.state == Job.State.SUCCEEDED, on.log
    our_id = identity(ours)
    try:
        with someone_elses_swap(decoy):
            decoy_id = identity(decoy)
            with memory_lock_held(worker.data_dir):
                off = services.request_action(backend, "deactivate", actor)
                wait_until(
                    lambda: "waiting for another swapoff" in Job.objects.get(pk=off.pk).log,
                    60, "the deactivate to wait for the memory lock",
                )  # fmt: skip
                os.rename(root, moved_root)
                root.mkdir()
                os.symlink(decoy, ours)
            done = wait_for_job(off, 60, worker=worker)
            now = active_inodes()
            assert now.get(decoy_id) == 1, (now, done.log)
            assert our_id not in now, (now, done.log)
            print(f"deactivate: {done.state}\n{done.log}{done.error}")
    finally:
        if moved_root.exists():
            ours.unlink(missing_ok=True)
            root.rmdir()
            os.rename(moved_root, root)
        if kernel.find_area(str(ours)) is not None:
            again = services.request_action(backend, "deactivate", actor)
            assert wait_for_job(again, 60, worker=worker).state == Job.State.SUCCEEDED
