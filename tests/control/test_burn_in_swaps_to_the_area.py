"""A burn-in through a real worker makes the kernel swap to the area: pswpout rises."""

from __future__ import annotations

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job, Sample
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def test_a_burn_in_makes_the_kernel_swap_to_the_area(worker, alice):
    actor = Actor(alice, Job.Via.API)
    job = services.create_backend(
        host=worker.host, kind="file", name="burn", size_bytes=128 * MiB, actor=actor,
        params={"path": str(worker.swap_root / "burn")}, priority=32000,
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name="burn")
    job = services.request_action(backend, Job.Kind.ACTIVATE, actor, {})
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED

    job = services.request_action(
        backend, Job.Kind.BURN_IN, actor,
        {"seconds": 3, "memory_limit_bytes": 32 * MiB, "hog_bytes": 96 * MiB},
    )  # fmt: skip
    job = wait_for_job(job, 90, worker=worker)
    assert job.state == Job.State.SUCCEEDED, f"{job.error}\n{job.log}"
    result = job.result["burn_in"]
    assert result["pswpout"] > (32 * MiB) // 4096, result
    assert result["peak_used_bytes"] > 16 * MiB, result
    assert result["corrupt_pages"] == 0
    # The sampler saw it too.
    assert Sample.objects.filter(host=worker.host, pswpout_rate__gt=0).exists()

    job = services.request_action(backend, Job.Kind.DEACTIVATE, actor, {})
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
