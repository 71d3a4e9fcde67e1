"""A file the dynamic swap policy adds leaves a tenth of its filesystem free, where a
person's provision keeps 1%: it is made with no one asking at that moment, often under
memory pressure at night, and the swap root is often on the root filesystem.

On a 64 MiB ext4 swap root, a 48 MiB file fits a person's provision (1% kept) but would
leave less than 10%: the policy's provision of it fails with the shortage named and nothing
made, while the same size asked by a person succeeds on the same filesystem."""

from __future__ import annotations

import pytest

from swapadmin.core import dynamic, services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import mounted_image, needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def test_the_policys_file_keeps_a_tenth_free_a_persons_one_percent(
    start_worker, alice, scratch
) -> None:
    with mounted_image(scratch, "ext4", size_mb=64) as mnt:
        w = start_worker(swap_root=mnt)
        policy = dynamic.policy_for(w.host)
        job = services.create_backend(
            host=w.host, kind="file", name="dyn-1", size_bytes=48 * MiB,
            actor=Actor.system(), params={"path": str(mnt / "dyn-1")}, dynamic_policy=policy,
        )  # fmt: skip
        job = wait_for_job(job, 60, worker=w)
        assert job.state == Job.State.FAILED, job.log
        assert "not enough free space" in job.error, job.error
        assert "10% of the filesystem, kept free beside the dynamic swap policy" in job.error
        assert not (mnt / "dyn-1").exists()

        mine = services.create_backend(
            host=w.host, kind="file", name="mine", size_bytes=48 * MiB,
            actor=Actor(alice, Job.Via.API), params={"path": str(mnt / "mine")},
        )  # fmt: skip
        mine = wait_for_job(mine, 60, worker=w)
        assert mine.state == Job.State.SUCCEEDED, mine.error
        assert Backend.objects.get(pk=mine.backend_id).provisioned_at is not None
        w.stop()
