"""A loop resize holds the device it writes the new header through (``_hold``), proven on
the held descriptor: the file's inode and the backend's name field. A device at the recorded
number that a person attached to the file is refused, in words that say so, before the file
is changed. Before (248/2-3), the held device was checked by inode alone, and a person's
device there was said to be "detached, or the machine restarted"."""

from __future__ import annotations

import pytest

from backends.plugins.loop import LoopBackend
from swapadmin.core.models import Backend, Job
from tests.control.test_an_off_loop_area_is_not_resized_while_its_device_is_claimed import (
    LoopArea,
    loop_area,
)
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

__all__ = ["loop_area"]  # the fixture this module uses


def _theirs_at_the_recorded_number(loop_area: LoopArea, theirs: str) -> Backend:
    backend = loop_area[0]
    Backend.objects.filter(pk=backend.pk).update(state={**backend.state, "device": theirs})
    return Backend.objects.get(pk=backend.pk)


def test_a_persons_device_at_the_recorded_number_is_said_so(loop_area: LoopArea) -> None:
    _, device, path = loop_area
    sh("losetup", "-d", device)
    with attached(path) as theirs:
        backend = _theirs_at_the_recorded_number(loop_area, theirs)

        job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))

        assert job.state == Job.State.FAILED, job.log
        assert f"the loop device now at {theirs} is not this backend's" in job.error, job.error
        assert "did not attach it" in job.error, job.error
        assert path.stat().st_size == 16 * MiB


def test_the_held_device_is_proven_by_its_name_field(
    loop_area: LoopArea, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look that picked the device let it go before the hold: the moment in between, in
    which the backend's device was detached and the file attached by hand at its number, is
    made certain by having that look answer the person's device."""
    _, device, path = loop_area
    sh("losetup", "-d", device)
    with attached(path) as theirs:
        backend = _theirs_at_the_recorded_number(loop_area, theirs)
        monkeypatch.setattr(LoopBackend, "_serving_device", lambda self, backing: theirs)

        job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))

        assert job.state == Job.State.FAILED, job.log
        assert f"{theirs} stopped serving {path} as this backend's device" in job.error
        assert path.stat().st_size == 16 * MiB
