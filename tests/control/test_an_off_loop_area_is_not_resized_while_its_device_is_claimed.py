"""The loop kind resizes an inactive area through its backing file, which no look at the
file shows to be in use through the loop device: a dm or md device built over that loop
device, a mount of it, or another's O_EXCL open all claim it, and anyone may swap on or
mount what they reach through it. Before, only a loop device over it was looked for (review
228/2): the file was cut under the claim. Now the O_EXCL open just before each write and
before LOOP_SET_CAPACITY finds the claim, and the resize is refused with nothing changed.

This kernel has neither dm nor md; the claim here is another opener's O_EXCL, the same
claim the kernel makes for them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


def test_the_resize_is_refused_and_the_file_left_as_it_was(host_row, swap_root: Path) -> None:
    path = swap_root / "area"
    backend = Backend.objects.create(
        host=host_row, kind="loop", name="area", params={"path": str(path)}, size_bytes=16 * MiB
    )
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.error
    backend.refresh_from_db()
    device = backend.state["device"]
    try:
        claim = os.open(device, os.O_RDONLY | os.O_EXCL)
        try:
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
        finally:
            os.close(claim)
        assert job.state == Job.State.FAILED, job.log
        assert f"{device}, this backend's loop device, is claimed by another" in job.error, (
            job.error
        )
        assert path.stat().st_size == 16 * MiB  # never cut under the claim
        backend.refresh_from_db()
        assert backend.size_bytes == 16 * MiB
        # Released: the same resize goes through.
        again = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
        assert again.state == Job.State.SUCCEEDED, again.error
        assert path.stat().st_size == 8 * MiB
    finally:
        gone = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error
