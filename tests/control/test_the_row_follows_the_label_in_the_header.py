"""The backend's row takes its label from the swap header whenever the area is observed.

An edit writes the label into the header, then saves the row; a worker killed between the
two left the row's old label for good, and a later resize (whose mkswap keeps the row's
label) wrote the old one back. The header is where the label lives: here it is changed
behind swapadmin's back with util-linux's swaplabel, and the next job's observation of the
area puts it on the row."""

from __future__ import annotations

import subprocess

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import WorkerProcess, wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_label_found_in_the_header_is_the_rows_after_the_next_job(
    worker: WorkerProcess, alice
) -> None:
    actor = Actor(alice, Job.Via.API)
    path = worker.swap_root / "labelled"
    job = services.create_backend(
        host=worker.host, kind="file", name="labelled", size_bytes=16 << 20, actor=actor,
        params={"path": str(path)}, label="before",
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED, job.log
    backend = Backend.objects.get(pk=job.backend_id)
    assert backend.label == "before"

    subprocess.run(["swaplabel", "-L", "after", str(path)], check=True)
    check = services.request_action(backend, Job.Kind.CHECK, actor)
    assert wait_for_job(check, 60, worker=worker).state == Job.State.SUCCEEDED, check.log

    backend.refresh_from_db()
    assert backend.label == "after"
    assert backend.header["label"] == "after"
