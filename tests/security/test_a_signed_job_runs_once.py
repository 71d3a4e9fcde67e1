"""A signature says what the control plane authorised, not how often. Someone holding a
host's worker.env sets a finished forced provision back to queued, its backend row back as
it was signed, after the disk was given back to a filesystem; then sends its message again,
or lets the control plane's own sweep send it (``resend_lost``). The worker remembers, in a
file of its own, that the job ran (``core/finished.py``) and refuses it; the filesystem is
untouched. Before, within the signature's day the replay formatted the disk."""

from __future__ import annotations

import subprocess
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job
from tests.ownership.conftest import digest, fsck_clean, loops  # noqa: F401  (a fixture)

from .signed import Disk, host_worker, signed_forced_provision

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def provisioned_then_given_back(worker, scratch, loops) -> tuple[Job, Disk]:  # noqa: F811
    disk = Disk(scratch, loops)
    backend = Backend.objects.create(
        host=worker.host, kind="block", name="victim", params={"device": disk.device},
        swap_uuid=uuid.uuid4(),
    )  # fmt: skip
    job = signed_forced_provision(worker, backend)
    assert job.state == Job.State.SUCCEEDED, job.error
    # The admin gives the disk back to a filesystem.
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "again", str(disk.image)], check=True)
    assert fsck_clean(disk.image)
    disk.digest = digest(disk.image)  # what "untouched" means from now on
    # The attacker: the rows back as they were signed, the job queued again.
    Backend.objects.filter(pk=backend.pk).update(store_key=None, state={}, provisioned_at=None)
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.QUEUED, started_at=None, finished_at=None, worker="", worker_pid=None,
        result={}, error="", attempt=0, heartbeat_at=None, boot_id="",
        dispatched_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    return job, disk


def refused_as_a_replay(job: Job) -> bool:
    return job.state == Job.State.FAILED and "already ran on this host" in job.error


def test_a_replayed_message_is_refused(start_worker, scratch, loops):  # noqa: F811
    worker = host_worker(start_worker)
    job, disk = provisioned_then_given_back(worker, scratch, loops)
    services.dispatch(job.pk)
    job = wait_for_job(job, 60, worker=worker)
    assert refused_as_a_replay(job), (job.state, job.error)
    assert disk.untouched()


def test_a_replay_sent_by_the_sweep_is_refused(start_worker, scratch, loops):  # noqa: F811
    worker = host_worker(start_worker)
    job, disk = provisioned_then_given_back(worker, scratch, loops)
    assert services.resend_lost() >= 1  # what the control plane's sweep runs every minute
    job = wait_for_job(job, 60, worker=worker)
    assert refused_as_a_replay(job), (job.state, job.error)
    assert disk.untouched()
