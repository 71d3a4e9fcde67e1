"""A block area on a loop device whose backing file was unlinked while it was active: what
the device serves can no longer be found to be read, which says nothing of whose the area
is (its recorded identity pins the backing's inode already). So the area is still observed
as this backend's, and a deactivate turns it off; a swapon of it is still refused. Review
240/3 found that making the block kind's refusals of what a loop device serves part of its
identity had this area called foreign, its deactivate refused, and its destroy forget the
row with the area left on."""

from __future__ import annotations

import os

import pytest

from backends import kernel
from swapadmin.core.models import Backend, Job
from swapadmin.core.observe import observe_backend
from tests.control.test_run_job_directly import job_for, run
from tests.fixtures.host import attached_loops, needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


def test_it_is_observed_as_its_own_and_turned_off(host_row, loop_device: str) -> None:
    backend = Backend.objects.create(
        host=host_row, kind="block", name="disk", params={"device": loop_device}
    )
    made = run(job_for(backend, Job.Kind.PROVISION, activate=True))
    assert made.state == Job.State.SUCCEEDED, made.error
    # Provisioned, as the row now says: a row that never was is proven nothing, and so is
    # observed ACTIVE whatever its store is (this test's look could not fail without it).
    backend.refresh_from_db()
    backing = attached_loops()[loop_device]
    os.unlink(backing)
    assert attached_loops()[loop_device] == f"{backing} (deleted)"

    assert observe_backend(backend) == Backend.Observed.ACTIVE
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.ACTIVE, backend.observed_error

    off = run(job_for(backend, Job.Kind.DEACTIVATE))
    assert off.state == Job.State.SUCCEEDED, off.error
    assert kernel.find_area(loop_device) is None

    # Whose it is says nothing of who else may reach it: a swapon is still refused, in
    # words that say what cannot be found (before: "over the block device ?", 241/3).
    on = run(job_for(backend, Job.Kind.ACTIVATE))
    assert on.state == Job.State.FAILED, on.log
    assert f"{loop_device} is a loop device whose backing cannot be found again" in on.error
    assert kernel.find_area(loop_device) is None
