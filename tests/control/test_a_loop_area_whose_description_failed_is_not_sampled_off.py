"""An active loop area whose last description failed is not sampled as off.

A job whose ``describe`` fails writes only the error to the row's info. The row's path is
then its params' guess, and a loop backend's params name its backing file, not the device
/proc/swaps shows: the sampler found no area at the file, found the file there, and said
READY, offering an activate of an area in use (review 167/3). A sample that meets a failed
description now says nothing of the state; the next description does.

Real: a loop backend provisioned and activated by its jobs, in /proc/swaps as its device."""

from __future__ import annotations

import pytest

from backends import kernel
from swapadmin.core.models import Backend, Job
from swapadmin.core.sampler import Reading, take_sample
from tests.control.test_run_job_directly import job_for, run
from tests.fixtures.host import needs_root

pytestmark = [needs_root, pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]

MiB = 1 << 20


@pytest.fixture
def active_loop(host_row, swap_root):
    backend = Backend.objects.create(
        host=host_row, kind="loop", name="l", params={"path": str(swap_root / "l.img")},
        size_bytes=16 * MiB, desired_state=Backend.Desired.ACTIVE,
    )  # fmt: skip
    try:
        for kind in (Job.Kind.PROVISION, Job.Kind.ACTIVATE):
            done = run(job_for(Backend.objects.get(pk=backend.pk), kind))
            assert done.state == Job.State.SUCCEEDED, done.error
        yield Backend.objects.get(pk=backend.pk)
    finally:
        # The scratch root's take-down swaps off and detaches whatever this left too.
        run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))


def test_an_active_loop_area_described_in_error_stays_active(host_row, active_loop):
    device = active_loop.state["device"]
    assert kernel.find_area(device) is not None
    assert active_loop.observed_state == Backend.Observed.ACTIVE
    # What a job writes when its last description fails (handlers._info).
    Backend.objects.filter(pk=active_loop.pk).update(info={"error": "cannot read sysfs"})

    take_sample(host_row, Reading())

    row = Backend.objects.get(pk=active_loop.pk)
    assert row.observed_state == Backend.Observed.ACTIVE
