"""A job queued for a host no machine had registered is signed with no machine id, and runs
on the machine that registered the host since. Its signature check took that empty id as a
match for any machine: on a machine other than the one the row now names, the job verified
(only the runner's machine check stood in the way). Now the signed "" stands for the
machine the row names, and no other."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from swapadmin.core import signing
from swapadmin.core.models import Host, Job

pytestmark = pytest.mark.django_db

REGISTERED = "0123456789abcdef0123456789abcdef"
ANOTHER = "fedcba9876543210fedcba9876543210"


def signed_then_registered() -> Job:
    host = Host.objects.create(name="later", machine_id="")
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host, params={})
    assert signing.sign_job(job.pk)
    Host.objects.filter(pk=host.pk).update(machine_id=REGISTERED)
    return Job.objects.select_related("host", "backend__host").get(pk=job.pk)


def verify_on(job: Job, machine: str) -> None:
    signing.verify(
        job, host_name="later", machine_id=machine, db_now=timezone.now() + timedelta(seconds=1)
    )


def test_it_verifies_on_the_machine_that_registered_the_host() -> None:
    verify_on(signed_then_registered(), REGISTERED)


def test_it_is_refused_on_any_other_machine() -> None:
    with pytest.raises(signing.Unauthorised, match="host.machine_id is"):
        verify_on(signed_then_registered(), ANOTHER)


def test_a_worker_that_cannot_read_its_id_refuses_it(settings, tmp_path) -> None:
    job = signed_then_registered()
    settings.SWAPADMIN_HOST = "later"
    settings.SWAPADMIN_MACHINE_ID_FILE = tmp_path / "machine-id"  # not there
    with pytest.raises(signing.Unauthorised, match="does not exist"):
        signing.verify_here(job)
