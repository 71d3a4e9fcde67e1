"""A zram resize resets the device, which the kernel refuses (EBUSY) while anyone holds it
open: udev's probe, a health probe or a person's look just after the swapoff. The kernel
refuses before it changes anything, so the job says the store is busy, not that the resize
may have changed it, and the area is not swapped on again under another's hands; once it
is free, activate takes it back as it was (review 224/1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swapadmin.core.models import Job
from tests.control.test_a_swapon_again_makes_no_store import _active_zram
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import active_swaps, needs_root

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("on_testhost", "zram_cleanup"),
    needs_root,
]


def test_a_reset_refused_as_busy_leaves_the_store_as_it_was(host_row) -> None:
    backend = _active_zram(host_row)
    device = backend.state["device"]
    disksize = Path("/sys/block") / Path(device).name / "disksize"
    held = os.open(device, os.O_RDONLY)  # a reader's, as udev's probe would hold it
    try:
        job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert "reset failed: Device or resource busy" in job.error, job.error
        assert f"{device} stays off: the kernel said its store is busy" in job.error, job.error
        assert "may have changed" not in job.error, job.error
        assert device not in active_swaps()
        assert int(disksize.read_text()) == 8 * MiB  # never reset
    finally:
        os.close(held)
    try:
        backend.refresh_from_db()
        assert backend.size_bytes == 8 * MiB
        on = run(job_for(backend, Job.Kind.ACTIVATE))
        assert on.state == Job.State.SUCCEEDED, on.error  # its header is still there
        assert device in active_swaps()
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error
