"""A signed edit job whose label the fstab comment cannot hold (a newline), for a backend
kept in the fstab, reaching a real worker (the request side refuses such a label; the worker
trusts no job's params): it fails before anything is written. Before, the worker rewrote
the header's label and saved it on the row, then failed on the fstab line, leaving a half
done edit behind a failed job."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import transaction

from backends import fstab
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import WorkerProcess, wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PAGE = os.sysconf("SC_PAGE_SIZE")


def page0(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(PAGE)


@pytest.mark.parametrize(
    ("name", "label"), [("fsl0", "two\nlines"), ("fsl1", " lead"), ("fsl2", "bell\x07")]
)
def test_the_job_fails_and_the_header_row_and_fstab_stay(
    worker: WorkerProcess, alice, name: str, label: str
) -> None:
    actor = Actor(alice, Job.Via.API)
    path = worker.swap_root / name
    job = services.create_backend(
        host=worker.host, kind="file", name=name, size_bytes=16 << 20, actor=actor,
        params={"path": str(path)}, label="kept", persist=True,
    )  # fmt: skip
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.log
    backend = Backend.objects.get(pk=job.backend_id)
    before = page0(path)
    fstab_before = Path(worker.fstab).read_bytes()
    assert any(e.spec == str(path) for e in fstab.entries(worker.fstab))

    with transaction.atomic():
        job = services._new_job(
            backend.host, Job.Kind.EDIT, actor, backend=backend, params={"label": label}
        )
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.FAILED, job.log
    assert page0(path) == before
    assert Path(worker.fstab).read_bytes() == fstab_before
    assert "label" in job.error and "Nothing was written" in job.error, job.error
    backend.refresh_from_db()
    assert backend.label == "kept" and backend.header["label"] == "kept"
