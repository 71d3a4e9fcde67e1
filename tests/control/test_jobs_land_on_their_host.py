"""Two workers for two hosts: each job runs on its own host's worker, and only there."""

from __future__ import annotations

import pytest

from backends import kernel
from swapadmin.core import services
from swapadmin.core.models import Host, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_each_job_runs_on_its_hosts_worker(start_worker, alice, scratch):
    actor = Actor(alice, Job.Via.API)
    # Each host has its own swap root: a worker refuses paths outside its own.
    roots = [scratch / "root-a", scratch / "root-b"]
    for r in roots:
        r.mkdir()
    a = start_worker(swap_root=roots[0])
    b = start_worker(swap_root=roots[1])
    assert {h.name for h in Host.objects.all()} >= {a.name, b.name}
    assert Host.objects.get(name=a.name).swap_roots == [str(roots[0])]

    jobs = {}
    for w, root in ((a, roots[0]), (b, roots[1])):
        jobs[w.name] = services.create_backend(
            host=w.host, kind="file", name="s", size_bytes=16 << 20, actor=actor,
            params={"path": str(root / "s")},
        )  # fmt: skip
    for w in (a, b):
        job = wait_for_job(jobs[w.name], 60, worker=w)
        assert job.state == Job.State.SUCCEEDED, job.error
        assert job.worker.startswith(f"{w.name}@")
        assert job.worker_pid == w.pid
    assert (roots[0] / "s").exists() and (roots[1] / "s").exists()

    # Host-wide jobs too: discover on b runs on b's worker.
    job = wait_for_job(services.request_host_job(b.host, Job.Kind.DISCOVER, actor), 60, worker=b)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.worker.startswith(f"{b.name}@")
    assert not kernel.is_active(str(roots[0] / "s"))
