"""Which loop device is this backend's, when no record says so (a crash between attaching
and saving the record, or a record stale since the device was detached by hand): only one
this backend attached, whose name field (written by the very ioctl that attached it) holds
the backend's id, read on the device's descriptor with the inode it serves. A device a
person attached to the same file with losetup serves the same inode under the same sysfs
name, and before (240/1-2) it was taken for this backend's: an activate recorded it and
swapped it on, and a destroy with no record detached whichever device served the file
first."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import kernel
from swapadmin.core.models import Backend, Job
from tests.control.test_an_off_loop_area_is_not_resized_while_its_device_is_claimed import (
    LoopArea,
    _lose_the_record,
    loop_area,
)
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import attached_loops, needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

__all__ = ["loop_area"]  # the fixture this module uses


def _serving(path: Path) -> list[str]:
    return sorted(dev for dev, backing in attached_loops().items() if backing == str(path))


def test_an_activate_never_swaps_on_a_persons_device(loop_area: LoopArea) -> None:
    """Its device detached by hand and the file attached again by a person, who got the
    number the record names. The person's device is neither swapped on nor passed over
    with a second device attached beside it: the activate is refused, naming it."""
    backend, device, path = loop_area
    sh("losetup", "-d", device)
    with attached(path) as theirs:
        job = run(job_for(backend, Job.Kind.ACTIVATE))

        assert job.state == Job.State.FAILED, job.log
        assert f"{path} is attached to {theirs}" in job.error, job.error
        assert kernel.find_area(theirs) is None
        assert _serving(path) == [theirs]  # nothing attached beside it
    # Theirs gone, the backend's own device goes on.
    on = run(job_for(backend, Job.Kind.ACTIVATE))
    assert on.state == Job.State.SUCCEEDED, on.error
    backend.refresh_from_db()
    assert kernel.find_area(backend.state["device"]) is not None
    assert run(job_for(backend, Job.Kind.DEACTIVATE)).state == Job.State.SUCCEEDED


def test_a_destroy_with_no_record_never_detaches_a_persons_device(
    host_row, swap_root: Path, scratch: Path
) -> None:
    """The record lost, with the backend's own device and a person's both over the file,
    the person's listed first (the lower number): the destroy detaches its own, found by its
    name field, and refuses to remove a file the person's device still serves; it never
    detaches the person's."""
    path = swap_root / "area"
    backend = Backend.objects.create(
        host=host_row, kind="loop", name="area", params={"path": str(path)}, size_bytes=16 * MiB
    )
    dummy = scratch / "dummy"
    dummy.write_bytes(bytes(1 << 20))
    with attached(dummy) as lower:  # holds a lower number while the backend takes one
        made = run(job_for(backend, Job.Kind.PROVISION))
        assert made.state == Job.State.SUCCEEDED, made.error
    backend.refresh_from_db()
    ours = backend.state["device"]
    _lose_the_record(backend)
    try:
        with attached(path) as theirs:
            assert theirs == lower  # the lowest free number: listed before ours

            job = run(job_for(backend, Job.Kind.DESTROY))

            assert _serving(path) == [theirs], job.log  # theirs left, ours detached
            assert job.state == Job.State.FAILED, job.log
            assert theirs in job.error, job.error
            assert path.exists()
        gone = run(job_for(backend, Job.Kind.DESTROY))  # theirs gone: the file goes too
        assert gone.state == Job.State.SUCCEEDED, gone.log
        assert not path.exists()
    finally:
        if attached_loops().get(ours) == str(path):
            sh("losetup", "-d", ours, check=False)
