"""A provisioned file backend whose file a sysadmin attached to a loop device by hand
(``losetup -f /swap/s0``): its bytes are now reachable through /dev/loopN, which anyone may
swap on or mount at any moment. The worker refuses every write (benchmark, scan, resize),
naming the loop device, and the file is byte for byte what it was. Once the device is
detached, the backend is its own again and the same jobs run."""

from __future__ import annotations

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job
from tests.ownership.conftest import MiB, detach, digest

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WRITES = {
    Job.Kind.BENCHMARK: {"seconds": 1},
    Job.Kind.SCAN: {"patterns": 1},
    Job.Kind.RESIZE: {"size_bytes": 24 * MiB},
}


def test_no_job_writes_a_file_a_loop_device_serves(start_worker, alice, loops):
    actor = Actor(alice, Job.Via.API)
    w = start_worker(pool="prefork")
    path = w.swap_root / "s0"
    job = services.create_backend(
        host=w.host, kind="file", name="s0", size_bytes=16 * MiB, actor=actor,
        params={"path": str(path)},
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=w).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(pk=job.backend_id)
    dev = loops(path)
    before = digest(path)

    for kind, params in WRITES.items():
        job = wait_for_job(services.request_action(backend, kind, actor, params), 60, worker=w)
        assert job.state == Job.State.FAILED, (kind, job.log)
        assert f"is attached to {dev}" in job.error, (kind, job.error)
        assert digest(path) == before, f"a {kind} job wrote to the file behind {dev}"
        assert path.stat().st_size == 16 * MiB

    detach(dev)
    for kind, params in WRITES.items():
        job = wait_for_job(services.request_action(backend, kind, actor, params), 60, worker=w)
        assert job.state == Job.State.SUCCEEDED, (kind, job.error)
    gone = wait_for_job(services.request_action(backend, Job.Kind.DESTROY, actor), 60, worker=w)
    assert gone.state == Job.State.SUCCEEDED, gone.error
    assert not path.exists()
