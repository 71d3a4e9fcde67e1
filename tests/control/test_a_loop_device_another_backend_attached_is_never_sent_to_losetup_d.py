"""A loop backend whose row holds another backend's record (copied between rows): the
device it names carries the other backend's name field, so it is that backend's, swapped
on. The destroy of the row that copied it forgets the row and leaves the other's area on
and attached; no job's words send a person to swap it off or detach it, as they did for a
device "attached by hand" (250/3)."""

from __future__ import annotations

import pytest

from backends import kernel
from swapadmin.core.models import Backend, Job
from tests.control.test_an_off_loop_area_is_not_resized_while_its_device_is_claimed import (
    LoopArea,
    loop_area,
)
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import attached_loops, needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

__all__ = ["loop_area"]  # the fixture this module uses


def _copied(loop_area: LoopArea, *, own_file_gone: bool = False) -> Backend:
    """The other backend's area swapped on, and a second loop backend provisioned beside it
    whose row then takes the other's state, its own device detached (and its own file, if
    asked, unlinked)."""
    theirs, _device, their_file = loop_area
    on = run(job_for(theirs, Job.Kind.ACTIVATE))
    assert on.state == Job.State.SUCCEEDED, on.log
    own_file = their_file.with_name("copy")
    mine = Backend.objects.create(
        host=theirs.host, kind="loop", name="copy", size_bytes=16 * MiB,
        params={"path": str(own_file)},
    )  # fmt: skip
    made = run(job_for(mine, Job.Kind.PROVISION))
    # Every device over the copy's file detached, before any assert: its own, so that only
    # the record speaks, and any a provision that failed half-way attached.
    for dev, served in attached_loops().items():
        if served in (str(own_file), f"{own_file} (deleted)"):
            sh("losetup", "-d", dev, check=False)
    assert made.state == Job.State.SUCCEEDED, made.log
    assert str(own_file) not in attached_loops().values()
    if own_file_gone:
        own_file.unlink()
    Backend.objects.filter(pk=mine.pk).update(state=Backend.objects.get(pk=theirs.pk).state)
    return Backend.objects.get(pk=mine.pk)


def test_the_copy_is_forgotten_and_the_others_area_left_on(loop_area: LoopArea) -> None:
    _theirs, device, their_file = loop_area
    copied = _copied(loop_area)

    off = run(job_for(copied, Job.Kind.DEACTIVATE))
    assert off.state == Job.State.FAILED, off.log
    gone = run(job_for(copied, Job.Kind.DESTROY))

    assert gone.state == Job.State.SUCCEEDED, gone.log
    for job in (off, gone):
        assert f"(losetup -d {device})" not in job.log, job.log
        assert f"(swapoff {device})" not in job.log, job.log  # no advice to
    assert kernel.is_active(device)  # theirs, left on and attached
    assert attached_loops().get(device) == str(their_file)
    assert not Backend.objects.filter(pk=copied.pk).exists()


def test_the_words_name_the_other_backend_not_a_person(loop_area: LoopArea) -> None:
    """The copy's own file gone: the device it names is asked first, and said to be the
    other backend's (its name field), not a device a person attached (250/3)."""
    _theirs, device, _their_file = loop_area
    copied = _copied(loop_area, own_file_gone=True)

    off = run(job_for(copied, Job.Kind.DEACTIVATE))

    assert off.state == Job.State.FAILED, off.log
    assert f"the loop device now at {device} is another swapadmin backend's" in off.error
    assert "did not attach it" not in off.error, off.error
    assert kernel.is_active(device)
