"""The row takes its label from the swap header only of a store proven its own just now.

The label is signed with the row, and a resize's mkswap writes it. The look before a job
(and every other) copied the label of whatever header it read at the row's path, proven
or not: for a row never provisioned, another's swap file at the path gave the row its
label (review 167/2). Real: a swap file made by util-linux's mkswap with its own label, at
the path of a file backend that was never provisioned."""

from __future__ import annotations

import subprocess

import pytest

from swapadmin.core.models import Backend, Job
from swapadmin.core.observe import observe_backend
from tests.control.test_run_job_directly import backend_on, job_for, run
from tests.fixtures.host import needs_root

pytestmark = [needs_root, pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


def mkswap(path, label: str) -> None:
    with open(path, "wb") as f:
        f.truncate(4 << 20)
    path.chmod(0o600)
    subprocess.run(["mkswap", "-L", label, str(path)], check=True, capture_output=True)


def test_another_swap_file_at_an_unprovisioned_rows_path_gives_it_no_label(host_row, swap_root):
    path = swap_root / "theirs"
    mkswap(path, "theirs")
    backend = backend_on(host_row, path, label="mine")

    observe_backend(backend)

    backend.refresh_from_db()
    assert backend.label == "mine"


def test_the_backends_own_store_still_gives_it_its_label(host_row, swap_root):
    backend = backend_on(host_row, swap_root / "own", label="before")
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.error
    subprocess.run(["swaplabel", "-L", "after", str(swap_root / "own")], check=True)

    observe_backend(Backend.objects.get(pk=backend.pk))

    assert Backend.objects.get(pk=backend.pk).label == "after"
