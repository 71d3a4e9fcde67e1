"""The worker checks a job's signature before it claims it (``tasks.run_job``), then claims
it and loads its backend. Someone holding the host's worker.env re-points the backend row
at a disk holding ext4 in between, while the worker's claim waits (held there by the jobs
table's lock, ``tests/faults/pause.JobGate``): the runner checks the rows it loaded once
more against the signature and refuses; the disk is untouched. Before, that second look was
missing, and the forced provision signed for an empty disk formatted the other one."""

from __future__ import annotations

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.faults.pause import JobGate, in_another_thread
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job
from tests.ownership.conftest import loops  # noqa: F401  (a fixture)

from .signed import Disk, MiB, host_worker

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CLAIM = 'UPDATE "core_job" SET "state"'


def test_the_runner_refuses_what_changed_after_the_gate(start_worker, alice, scratch, loops):  # noqa: F811
    worker = host_worker(start_worker)
    empty = scratch / "empty.img"
    with open(empty, "wb") as f:
        f.truncate(64 * MiB)
    signed_for = loops(empty)
    disk = Disk(scratch, loops)
    with JobGate(lambda j: j.kind == Job.Kind.PROVISION) as gate:
        in_another_thread(
            lambda: services.create_backend(
                host=worker.host,
                kind="block",
                name="mine",
                actor=Actor(alice, Job.Via.API),
                size_bytes=None,
                params={"device": signed_for},
                force=True,
                confirm="mine",
            )  # fmt: skip
        )
        gate.hold_at(CLAIM)  # the signature checked, the claim waiting
        Backend.objects.filter(name="mine", host=worker.host).update(params={"device": disk.device})
    job = wait_for_job(gate.job, 60, worker=worker)
    assert job.state == Job.State.FAILED, (job.state, job.error)
    assert "no longer match what the control plane signed: backend.params.device" in job.error
    assert disk.untouched()
    assert empty.read_bytes() == bytes(64 * MiB)
