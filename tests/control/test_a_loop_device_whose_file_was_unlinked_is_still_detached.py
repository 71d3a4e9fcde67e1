"""The loop kind's file unlinked by hand while its device is attached and off: the device
still serves the file's inode, and its name field says this backend attached it. The
destroy detaches it, not only forgets it: before (244/15), "the file is gone" read as "the
device is not ours", and the destroy succeeded with the device left attached over the
deleted file, swap header and all. A device it did not attach, which the record names, is
left as it is."""

from __future__ import annotations

import pytest

from swapadmin.core.models import Backend, Job
from tests.control.test_an_off_loop_area_is_not_resized_while_its_device_is_claimed import (
    LoopArea,
    loop_area,
)
from tests.control.test_run_job_directly import job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import attached_loops, needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

__all__ = ["loop_area"]  # the fixture this module uses


def test_the_destroy_detaches_the_device(loop_area: LoopArea) -> None:
    backend, device, path = loop_area
    path.unlink()
    assert attached_loops()[device] == f"{path} (deleted)"

    job = run(job_for(backend, Job.Kind.DESTROY))

    assert job.state == Job.State.SUCCEEDED, job.log
    assert device not in attached_loops(), job.log
    assert not Backend.objects.filter(pk=backend.pk).exists()


def test_a_device_it_did_not_attach_is_left(loop_area: LoopArea) -> None:
    """The backend's own device detached by hand, another attached to the file (a person's,
    or one a swapadmin from before 2026-12-07 attached: the same to look at), the record
    made to name it, and the file unlinked. Off, it is not this backend's to detach, and no
    area of this backend's is left on: the destroy goes through and leaves it attached (on,
    it is refused: the did-not-attach module)."""
    backend, device, path = loop_area
    sh("losetup", "-d", device)
    with attached(path) as theirs:
        Backend.objects.filter(pk=backend.pk).update(state={**backend.state, "device": theirs})
        path.unlink()

        job = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))

        assert job.state == Job.State.SUCCEEDED, job.log
        assert attached_loops().get(theirs) == f"{path} (deleted)", job.log
