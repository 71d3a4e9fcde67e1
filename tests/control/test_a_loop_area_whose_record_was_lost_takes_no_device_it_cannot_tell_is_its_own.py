"""A loop area whose device record a crash lost, with a second loop device attached to its
file by hand: which of the two is this backend's cannot be told, so no step takes either.
Every step asks the one answer (``LoopBackend._our_device``). Before, each step chose in its
own way: the look for other names and the activate took the first whose sysfs name matched,
and the detach whichever the kernel listed first, so the words could name ours as the one
to detach, and a person's device could be recorded or detached as ours (238/3).
The resize's refusal is shown in ``test_an_off_loop_area_is_not_resized_while_its_device_is_
claimed``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swapadmin.core.models import Job
from tests.control.test_an_off_loop_area_is_not_resized_while_its_device_is_claimed import (
    LoopArea,
    _lose_the_record,
    loop_area,
)
from tests.control.test_run_job_directly import job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import active_swaps, attached_loops, needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

__all__ = ["loop_area"]  # the fixture this module uses


@pytest.mark.parametrize("kind", [Job.Kind.DESTROY, Job.Kind.ACTIVATE])
def test_the_job_is_refused_and_both_devices_are_left_as_they_were(
    loop_area: LoopArea, kind: str
) -> None:
    backend, device, path = loop_area
    _lose_the_record(backend)
    with attached(path) as theirs:
        job = run(job_for(backend, kind))
        assert job.state == Job.State.FAILED, job.log
        both = ", ".join(sorted((device, theirs)))
        assert f"{path} is attached to {both}, and no record says which" in job.error, job.error
        assert "detach all but one (losetup -d)" in job.error, job.error
        serving = {d for d, f in attached_loops().items() if f == os.path.realpath(path)}
        assert serving == {device, theirs}
        assert device not in active_swaps() and theirs not in active_swaps()
        backend.refresh_from_db()  # the row is still there, and records neither
        assert "device" not in backend.state, backend.state
    assert Path(path).exists()


def test_once_only_its_own_serves_the_file_it_is_found_and_used(loop_area: LoopArea) -> None:
    """The way out the words give: with the person's device detached, the activate finds
    ours again, records it and swaps it on; no second device is attached."""
    backend, device, path = loop_area
    _lose_the_record(backend)
    on = run(job_for(backend, Job.Kind.ACTIVATE))
    assert on.state == Job.State.SUCCEEDED, on.log
    backend.refresh_from_db()
    assert backend.state["device"] == device and device in active_swaps()
    assert [d for d, f in attached_loops().items() if f == os.path.realpath(path)] == [device]
