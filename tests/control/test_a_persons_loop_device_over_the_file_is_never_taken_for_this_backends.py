"""Which loop device is this backend's, when no record says so (a crash between attaching
and saving the record, or a record stale since the device was detached by hand): only one
this backend attached, whose name field (written by the very ioctl that attached it) holds
the backend's id, read on the device's descriptor with the inode it serves. A device a
person attached to the same file with losetup serves the same inode under the same sysfs
name, and before (240/1-2) it was taken for this backend's: an activate recorded it and
swapped it on, and a destroy with no record detached whichever device served the file
first."""

from __future__ import annotations

import pytest

from backends import kernel
from swapadmin.core.models import Backend, Job
from tests.control.test_an_off_loop_area_is_not_resized_while_its_device_is_claimed import (
    LoopArea,
    _lose_the_record,
    loop_area,
)
from tests.control.test_run_job_directly import job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import attached_loops, needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

__all__ = ["loop_area"]  # the fixture this module uses


def test_an_activate_never_swaps_on_a_persons_device(loop_area: LoopArea) -> None:
    """Its device detached by hand and the file attached again by a person: the record
    names a device that serves nothing. The person's device is not recorded or swapped on;
    the backend attaches one of its own, and its swapon is refused while the person's is
    another name for the file."""
    backend, device, path = loop_area
    sh("losetup", "-d", device)
    with attached(path) as theirs:
        job = run(job_for(backend, Job.Kind.ACTIVATE))

        assert job.state == Job.State.FAILED, job.log
        assert f"{path} is attached to {theirs}" in job.error, job.error
        assert kernel.find_area(theirs) is None
        assert attached_loops().get(theirs) == str(path)
        backend.refresh_from_db()
        assert backend.state.get("device") != theirs
    # Theirs gone, the backend's own device goes on.
    on = run(job_for(backend, Job.Kind.ACTIVATE))
    assert on.state == Job.State.SUCCEEDED, on.error
    backend.refresh_from_db()
    assert kernel.find_area(backend.state["device"]) is not None
    assert run(job_for(backend, Job.Kind.DEACTIVATE)).state == Job.State.SUCCEEDED


def test_a_destroy_with_no_record_never_detaches_a_persons_device(loop_area: LoopArea) -> None:
    """The record lost, with the backend's own device and a person's both over the file,
    the person's listed first (the lower number, its device detached by hand and the file
    attached again before the backend attached one of its own): the destroy detaches its
    own, found by its name field, and refuses to remove a file the person's device still
    serves; it never detaches the person's."""
    backend, device, path = loop_area
    sh("losetup", "-d", device)
    with attached(path) as theirs:
        refused = run(job_for(backend, Job.Kind.ACTIVATE))  # attaches its own, then refuses
        assert refused.state == Job.State.FAILED, refused.log
        backend.refresh_from_db()
        ours = backend.state["device"]
        assert sorted([theirs, ours], key=lambda d: int(d.removeprefix("/dev/loop")))[0] == theirs
        _lose_the_record(backend)

        job = run(job_for(backend, Job.Kind.DESTROY))

        loops = attached_loops()
        assert loops.get(theirs) == str(path), job.log  # theirs, left as it was
        assert ours not in loops, job.log  # ours, detached
        assert job.state == Job.State.FAILED, job.log
        assert theirs in job.error, job.error
        assert path.exists()
    assert Backend.objects.filter(pk=backend.pk).exists()  # the fixture destroys it
