"""A burn-in records the cgroup version it ran under and the swap its hog really used (the
cgroup's own figure, not the host's counters); the job log says which version. On this VM
that is v1: the host binds the memory controller to a v1 hierarchy."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import burnin, cgroups
from backends.errors import BackendError
from backends.plugins.file import FileBackend
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = needs_root
MiB = 1 << 20


@pytest.fixture
def host_hierarchy() -> cgroups.Hierarchy:
    try:
        return cgroups.find_hierarchy()
    except BackendError as e:  # no memory cgroup at all: the reason is the skip message
        pytest.skip(str(e))


def test_the_result_names_the_version_and_the_swap_the_hog_used(
    active: FileBackend, host_hierarchy: cgroups.Hierarchy
) -> None:
    result = burnin.burn_in(active, memory_limit_bytes=32 * MiB, hog_bytes=96 * MiB, seconds=3)
    assert result.cgroup_version == host_hierarchy.version
    assert Path(result.cgroup).parent == host_hierarchy.parent
    assert result.to_dict()["cgroup_version"] == host_hierarchy.version
    if result.cgroup_swap_peak_bytes is not None:
        # 96 MiB under a 32 MiB limit: most of it went to swap, charged to the hog.
        assert result.cgroup_swap_peak_bytes > 32 * MiB
    assert result.healthy


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_job_log_says_which_version_the_worker_used(
    worker, alice, host_hierarchy: cgroups.Hierarchy
) -> None:
    actor = Actor(alice, Job.Via.API)
    job = services.create_backend(
        host=worker.host, kind="file", name="burn", size_bytes=128 * MiB, actor=actor,
        params={"path": str(worker.swap_root / "burn")}, priority=32000,
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name="burn")
    job = services.request_action(backend, Job.Kind.ACTIVATE, actor, {})
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
    try:
        job = services.request_action(
            backend, Job.Kind.BURN_IN, actor,
            {"seconds": 2, "memory_limit_bytes": 32 * MiB, "hog_bytes": 64 * MiB},
        )  # fmt: skip
        job = wait_for_job(job, 90, worker=worker)
        assert job.state == Job.State.SUCCEEDED, f"{job.error}\n{job.log}"
        v = host_hierarchy.version
        assert f"in a cgroup v{v} memory cgroup under {host_hierarchy.parent}" in job.log
        assert job.result["burn_in"]["cgroup_version"] == v
    finally:
        job = services.request_action(backend, Job.Kind.DEACTIVATE, actor, {})
        assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
