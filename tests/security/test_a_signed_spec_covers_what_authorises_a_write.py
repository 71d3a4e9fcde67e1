"""What the signature covers, field by field, without a worker: a job signed as its rows
stood, then one row changed the way someone holding a host's worker.env could change it,
fails the worker's check (``signing.verify``, what ``run_job`` calls before anything)
with the changed field named. The signed text altered is a bad signature; the rows as
signed pass."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db.models.functions import Now
from django.utils import timezone

from swapadmin.core import signing
from swapadmin.core.models import Backend, Host, Job

pytestmark = pytest.mark.django_db

MACHINE = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def job() -> Job:
    host = Host.objects.create(name="a", machine_id=MACHINE)
    backend = Backend.objects.create(
        host=host, kind="block", name="disk", params={"device": "/dev/loop7"},
        swap_uuid=uuid.uuid4(), store_key="wwn:0x5000c500a1b2c3d4",
        state={"store": {"key": "wwn:0x5000c500a1b2c3d4", "uuid": str(uuid.uuid4())}},
        provisioned_at=timezone.now(),
    )  # fmt: skip
    job = Job.objects.create(
        kind=Job.Kind.DEACTIVATE, host=host, backend=backend, backend_name="disk",
        params={"force": False},
    )  # fmt: skip
    assert signing.sign_job(job.pk)
    return job


def check(job: Job, *, host: str = "a", machine: str = MACHINE) -> None:
    fresh = Job.objects.select_related("host", "backend__host").get(pk=job.pk)
    signing.verify(fresh, host_name=host, machine_id=machine, db_now=timezone.now())


def other_backend(job: Job) -> Backend:
    return Backend.objects.create(
        host=job.host, kind="block", name="other", params={"device": "/dev/loop8"}
    )


CHANGES: dict[str, tuple[Callable[[Job], object], str]] = {
    "the store's device": (
        lambda j: Backend.objects.filter(pk=j.backend_id).update(params={"device": "/dev/sdb"}),
        "backend.params.device",
    ),
    "the recorded identity": (
        lambda j: Backend.objects.filter(pk=j.backend_id).update(
            state={"store": {"key": "wwn:0x5000c500deadbeef", "uuid": str(uuid.uuid4())}}
        ),
        "backend.identity.store.key",
    ),
    "the store key": (
        lambda j: Backend.objects.filter(pk=j.backend_id).update(store_key="blk:2049"),
        "backend.identity.store_key",
    ),
    "the swap UUID": (
        lambda j: Backend.objects.filter(pk=j.backend_id).update(swap_uuid=uuid.uuid4()),
        "backend.swap_uuid",
    ),
    "the kind of store": (
        lambda j: Backend.objects.filter(pk=j.backend_id).update(kind="loop"),
        "backend.kind",
    ),
    "force": (
        lambda j: Job.objects.filter(pk=j.pk).update(params={"force": True}),
        "confirm",  # the first field in key order that force changes
    ),
    "the job's kind": (
        lambda j: Job.objects.filter(pk=j.pk).update(kind=Job.Kind.PROVISION),
        "job.kind",
    ),
    "the job's backend": (
        lambda j: Job.objects.filter(pk=j.pk).update(backend=other_backend(j)),
        "backend.id",
    ),
    "the backend's host": (
        lambda j: Backend.objects.filter(pk=j.backend_id).update(
            host=Host.objects.create(name="b", machine_id=MACHINE)
        ),
        "backend.host",
    ),
    "the host's machine": (
        lambda j: Host.objects.filter(pk=j.host_id).update(machine_id="f" * 32),
        "host.machine_id",
    ),
}


def test_the_rows_as_signed_pass(job):
    check(job)


@pytest.mark.parametrize("change", CHANGES)
def test_a_changed_row_is_named(job, change):
    alter, field = CHANGES[change]
    alter(job)
    with pytest.raises(signing.Unauthorised) as refused:
        check(job)
    assert f"no longer match what the control plane signed: {field} is" in refused.value.message


def test_the_signed_text_altered_is_a_bad_signature(job):
    job.refresh_from_db()
    later = job.signed_spec.replace('"force":false', '"force":true')
    assert later != job.signed_spec
    Job.objects.filter(pk=job.pk).update(signed_spec=later)
    with pytest.raises(signing.Unauthorised, match="signature does not verify"):
        check(job)


def test_another_host_or_machine_is_refused(job):
    with pytest.raises(signing.Unauthorised, match="signed for host 'a'"):
        check(job, host="b")
    with pytest.raises(signing.Unauthorised, match="not for this worker's host 'a'"):
        check(job, machine="f" * 32)


def test_after_its_not_after_time_it_is_refused(job):
    fresh = Job.objects.select_related("host", "backend__host").get(pk=job.pk)
    db_now = Job.objects.annotate(now=Now()).values_list("now", flat=True)[0]
    with pytest.raises(signing.Unauthorised, match="authorisation expired"):
        signing.verify(fresh, host_name="a", machine_id=MACHINE, db_now=db_now + timedelta(days=2))
