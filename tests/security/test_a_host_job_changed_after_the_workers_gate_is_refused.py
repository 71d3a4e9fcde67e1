"""A host job (no backend: discover, tune) is checked against its signature at the gate,
then claimed, and the claim reloads its row. Someone holding the host's worker.env rewrites
the row in between, while the claim waits (held by the jobs table's lock,
``tests/faults/pause.JobGate``): a signed ``discover`` made a ``tune``. The runner checks
the reloaded row once more and refuses it. Before, that second look was made for a
backend's job only, and the unsigned tune ran."""

from __future__ import annotations

from pathlib import Path

import pytest

from swapadmin.core import services
from swapadmin.core.models import Job
from swapadmin.core.services import Actor
from tests.faults.pause import JobGate, in_another_thread
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

from .signed import host_worker

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CLAIM = 'UPDATE "core_job" SET "state"'


def test_a_discover_rewritten_as_a_tune_is_refused(start_worker, alice):
    worker = host_worker(start_worker)
    swappiness = int(Path("/proc/sys/vm/swappiness").read_text())
    with JobGate(lambda j: j.kind == Job.Kind.DISCOVER) as gate:
        in_another_thread(
            lambda: services.request_host_job(
                worker.host,
                Job.Kind.DISCOVER,
                Actor(alice, Job.Via.API),
                {"paths": [str(worker.swap_root / "nothing-here")]},
            )  # fmt: skip
        )
        gate.hold_at(CLAIM)  # the gate passed on the signed row; the claim waits
        pk = gate.job_pk
        gate.let_through(
            committing=lambda: Job.objects.filter(pk=pk).update(
                kind=Job.Kind.TUNE, params={"swappiness": swappiness}
            )
        )
    job = wait_for_job(gate.job, 60, worker=worker)
    assert job.state == Job.State.FAILED, (job.kind, job.state, job.result)
    assert "no longer match what the control plane signed: job.kind" in job.error, job.error
    assert not job.result
