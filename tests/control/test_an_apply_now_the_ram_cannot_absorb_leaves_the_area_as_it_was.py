"""A priority applied now to an active file backend, through a real worker whose RAM check
cannot be met (its margin is more than the memory available): the swapoff is refused, the
area stays active at its old priority, and the job's log names the area by its path (the
swapoff goes through the proven descriptor, which the message must not show instead)."""

from __future__ import annotations

import subprocess

import pytest

from backends import kernel
from swapadmin.core import edits, services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_swapoff_is_refused_and_nothing_changes(start_worker, alice) -> None:
    actor = Actor(alice, Job.Via.API)
    margin = 2 * kernel.meminfo().mem_total
    w = start_worker(env={"SWAPADMIN_SWAPOFF_MARGIN_BYTES": str(margin)})
    path = w.swap_root / "ram0"
    job = services.create_backend(
        host=w.host, kind="file", name="ram0", size_bytes=16 << 20, actor=actor,
        params={"path": str(path)}, priority=6,
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=w).state == Job.State.SUCCEEDED, job.log
    backend = Backend.objects.get(pk=job.backend_id)
    on = wait_for_job(services.request_action(backend, "activate", actor), 60, worker=w)
    assert on.state == Job.State.SUCCEEDED, on.log
    backend.refresh_from_db()
    try:
        done = edits.edit_backend(backend, actor, {"priority": 60, "apply": "now"})
        assert done.job is not None
        refused = wait_until(
            lambda: (j := Job.objects.get(pk=done.job.pk)).state != Job.State.RUNNING
            and "would move" in j.log
            and j,
            60, "the RAM check to refuse the swapoff",
        )  # fmt: skip
        assert "must stay free" in refused.log and f"swapoff {path} would move" in refused.log
        assert "/proc/self/fd" not in refused.log
        area = kernel.find_area(str(path))
        assert area is not None and area.priority == 6
        services.cancel_job(refused, actor)
        ended = wait_for_job(refused, 60, worker=w)
        assert ended.state in (Job.State.CANCELLED, Job.State.FAILED)
        area = kernel.find_area(str(path))
        assert area is not None and area.priority == 6
    finally:
        # This worker's own swapoff is refused by the same check: the test made the area.
        if kernel.find_area(str(path)) is not None:
            subprocess.run(["swapoff", str(path)], check=True)
