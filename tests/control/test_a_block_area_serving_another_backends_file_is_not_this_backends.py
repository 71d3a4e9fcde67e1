"""A block area on a loop device whose backing file carries another swapadmin backend's
mark is that backend's store reached through another name, not this one's: observed
FOREIGN, and its deactivate refused with the area left on, in words that name the owner.
The strict side of the block kind's identity (239/6); the lenient side, a backing that
cannot be found, is ``test_a_block_area_whose_loop_backing_is_gone_is_still_turned_off``
(243/5: only that side had a test)."""

from __future__ import annotations

import os
import uuid

import pytest

from backends import kernel
from backends.plugins.file import MADE, MARK_NAME, MARK_PREFIX
from swapadmin.core.models import Backend, Job
from swapadmin.core.observe import observe_backend
from tests.control.test_run_job_directly import job_for, run
from tests.fixtures.host import attached_loops, needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


def test_it_is_foreign_and_left_on(host_row, loop_device: str) -> None:
    backend = Backend.objects.create(
        host=host_row, kind="block", name="disk", params={"device": loop_device}
    )
    made = run(job_for(backend, Job.Kind.PROVISION, activate=True))
    assert made.state == Job.State.SUCCEEDED, made.error
    backend.refresh_from_db()  # provisioned: a row that never was is proven nothing
    assert observe_backend(backend) == Backend.Observed.ACTIVE  # its own, before the mark
    backing = attached_loops()[loop_device]
    other = str(uuid.uuid4())
    os.setxattr(backing, MARK_NAME, b":".join([MARK_PREFIX, MADE.encode(), other.encode()]))
    try:
        assert observe_backend(backend) == Backend.Observed.FOREIGN

        off = run(job_for(backend, Job.Kind.DEACTIVATE))
        assert off.state == Job.State.FAILED, off.log
        assert f"serves the swap file of swapadmin backend {other}" in off.error, off.error
        assert kernel.find_area(loop_device) is not None  # left on
    finally:
        os.removexattr(backing, MARK_NAME)

    # The mark gone, the area is this backend's again, and turned off as asked.
    assert observe_backend(backend) == Backend.Observed.ACTIVE
    assert run(job_for(backend, Job.Kind.DEACTIVATE)).state == Job.State.SUCCEEDED
    assert kernel.find_area(loop_device) is None
