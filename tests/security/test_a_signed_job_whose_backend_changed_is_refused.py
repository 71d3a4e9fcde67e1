"""A job the control plane signed, whose backend row is then pointed at another store (the
attack of someone holding the host's own worker.env: the row is writable, the signature is
not), is refused by the worker before it opens anything: a forced provision of an empty
disk or a new swap file, re-pointed at a disk holding ext4 or at someone's data file. The
refusal names what changed; neither store is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import transaction

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job
from tests.ownership.conftest import data_file, digest, loops  # noqa: F401  (a fixture)

from .signed import Disk, MiB, host_worker, refused

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def signed_then_repointed(worker, alice, *, kind: str, signed_for: str, now: str) -> Job:
    """A forced provision signed for ``signed_for``; its backend row re-pointed at ``now``
    before any worker could read it (the signature was made inside ``create_backend``)."""
    key = "device" if kind == "block" else "path"
    with transaction.atomic():
        job = services.create_backend(
            host=worker.host, kind=kind, name="mine", actor=Actor(alice, Job.Via.API),
            size_bytes=None if kind == "block" else 16 * MiB, params={key: signed_for},
            force=True, confirm="mine",
        )  # fmt: skip
        Backend.objects.filter(pk=job.backend_id).update(params={key: now})
    return wait_for_job(job, 60, worker=worker)


def test_a_disk_repointed_at_a_filesystem(start_worker, alice, scratch, loops):  # noqa: F811
    worker = host_worker(start_worker)
    empty = scratch / "empty.img"
    with open(empty, "wb") as f:
        f.truncate(64 * MiB)
    disk = Disk(scratch, loops)

    job = signed_then_repointed(
        worker, alice, kind="block", signed_for=loops(empty), now=disk.device
    )

    assert refused(job), (job.state, job.error)
    assert "no longer match what the control plane signed: backend.params.device" in job.error
    assert disk.device in job.error
    assert disk.untouched()
    assert Path(empty).read_bytes() == bytes(64 * MiB)


def test_a_swap_file_repointed_at_a_data_file(start_worker, alice):
    worker = host_worker(start_worker)
    data = worker.swap_root / "data"
    before = data_file(data)

    job = signed_then_repointed(
        worker, alice, kind="file", signed_for=str(worker.swap_root / "s0"), now=str(data)
    )

    assert refused(job), (job.state, job.error)
    assert "backend.params.path" in job.error
    assert digest(data) == before
    assert not (worker.swap_root / "s0").exists()
