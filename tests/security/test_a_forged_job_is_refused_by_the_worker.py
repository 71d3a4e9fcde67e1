"""A job row written straight into the database by someone who holds a host's worker.env
(the database and broker passwords, but no signing key) is refused by the host's worker:
with no signature, with a garbage one, and signed over the very specification its rows make
but with the attacker's own key. It asks for a forced provision of a disk holding ext4;
the disk is byte for byte what it was. The same rows, signed by the control plane, are
obeyed: the refusals are the signature's doing, nothing else's."""

from __future__ import annotations

import uuid

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job
from tests.ownership.conftest import fsck_clean, loops  # noqa: F401  (a fixture)

from .signed import Disk, attackers_signature, host_worker, refused, signed_forced_provision

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FORGERIES = {
    "unsigned": ("", "", "is not signed by the control plane"),
    "garbage": ("{}", "bm90IGEgc2lnbmF0dXJl", "signature does not verify"),
    "the attacker's key": (None, None, "signature does not verify"),
}


def forged_provision(backend: Backend, how: str) -> Job:
    job = Job.objects.create(
        kind=Job.Kind.PROVISION, host=backend.host, backend=backend,
        backend_name=backend.name, params={"force": True},
    )  # fmt: skip
    spec, signature, _ = FORGERIES[how]
    if spec is None:
        attackers_signature(job)
    else:
        Job.objects.filter(pk=job.pk).update(signed_spec=spec, signature=signature)
    services.dispatch(job.pk)  # the message a broker password lets anyone publish
    return job


def test_it_is_refused_and_the_disk_is_untouched(start_worker, scratch, loops):  # noqa: F811
    worker = host_worker(start_worker)
    disk = Disk(scratch, loops)
    backend = Backend.objects.create(
        host=worker.host, kind="block", name="victim", params={"device": disk.device},
        swap_uuid=uuid.uuid4(),
    )  # fmt: skip

    for how, (_, _, reason) in FORGERIES.items():
        job = wait_for_job(forged_provision(backend, how), 60, worker=worker)
        assert refused(job), (how, job.state, job.error)
        assert reason in job.error, (how, job.error)
        assert disk.untouched(), f"a job forged with {how} changed the disk"
    backend.refresh_from_db()
    assert (backend.store_key, backend.state) == (None, {})

    # The control plane's signature over the same rows is obeyed: force formats the disk.
    job = signed_forced_provision(worker, backend)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert not fsck_clean(disk.image)
