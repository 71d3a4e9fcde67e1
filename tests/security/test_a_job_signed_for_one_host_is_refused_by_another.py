"""A job signed for host A, moved (with its backend) to host B by someone who can write
rows, is refused by B's worker: the signature names the host and its machine, and B is
not what was signed. The disk the job would have formatted is untouched."""

from __future__ import annotations

import pytest
from django.db import transaction

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job
from tests.ownership.conftest import loops  # noqa: F401  (a fixture)

from .signed import Disk, host_worker, refused

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_is_refused(start_worker, alice, scratch, loops):  # noqa: F811
    a, b = host_worker(start_worker), host_worker(start_worker)
    disk = Disk(scratch, loops)
    with transaction.atomic():
        job = services.create_backend(
            host=a.host, kind="block", name="theirs", size_bytes=None,
            actor=Actor(alice, Job.Via.API), params={"device": disk.device},
            force=True, confirm="theirs",
        )  # fmt: skip
        # The dispatch on commit reads the job's host again: the message goes to B's queue.
        Backend.objects.filter(pk=job.backend_id).update(host=b.host)
        Job.objects.filter(pk=job.pk).update(host=b.host)

    job = wait_for_job(job, 60, worker=b)

    assert refused(job), (job.state, job.error)
    assert f"signed for host {a.name!r}" in job.error
    assert f"not for this worker's host {b.name!r}" in job.error
    assert disk.untouched()
