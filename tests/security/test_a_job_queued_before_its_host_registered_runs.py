"""A job queued for a host no machine has registered yet is signed with no machine id; the
machine that registers the host since is the one it was meant for (the runner checks the
machine), so the signature still verifies there. Before, the rebuilt specification carried
the machine id registered meanwhile and the job was refused as "changed after signing". A
job signed for one machine stays refused on another."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from swapadmin.core import signing
from swapadmin.core.models import Host, Job

pytestmark = pytest.mark.django_db


def signed_before_registration() -> Job:
    host = Host.objects.create(name="later", machine_id="")
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host, params={})
    assert signing.sign_job(job.pk)
    return job


def reloaded(job: Job) -> Job:
    return Job.objects.select_related("host", "backend__host").get(pk=job.pk)


def test_it_verifies_on_the_machine_that_registered_the_host():
    job = signed_before_registration()
    Host.objects.filter(name="later").update(machine_id="abc123")
    signing.verify(
        reloaded(job), host_name="later", machine_id="abc123",
        db_now=timezone.now() + timedelta(seconds=1),
    )  # fmt: skip


def test_a_job_signed_for_a_machine_is_refused_on_another():
    host = Host.objects.create(name="known", machine_id="abc123")
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host, params={})
    assert signing.sign_job(job.pk)
    Host.objects.filter(pk=host.pk).update(machine_id="other")
    with pytest.raises(signing.Unauthorised, match="signed for host 'known'"):
        signing.verify(
            reloaded(job), host_name="known", machine_id="other",
            db_now=timezone.now() + timedelta(seconds=1),
        )  # fmt: skip
