"""A job that swaps an active area off only to write its store or swap it on again (a
resize, an apply-now edit, a destroy) is refused while a loop device over the area's device
reaches its bytes, and refused before the swapoff: the area stays on, at its priority.
Before, the swapoff came first and ``check_alone`` refused only after it, so the area was
left off for nothing (review 228/1). A plain deactivate still swaps it off (227/4, in
``test_a_loop_device_over_the_stores_device_is_another_name_for_it``)."""

from __future__ import annotations

import pytest

from backends import kernel
from swapadmin.core.models import Backend, Job
from tests.control.test_a_swapon_again_makes_no_store import _active_zram
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import active_swaps, needs_root

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("on_testhost", "zram_cleanup"),
    needs_root,
]

#: Each job as it is asked for, and the backend's row it must leave as it was.
JOBS = {
    "resize": (Job.Kind.RESIZE, {"size_bytes": 12 * MiB}),
    "apply-now": (Job.Kind.EDIT, {"priority": 9, "apply": "now"}),
    "destroy": (Job.Kind.DESTROY, {}),
}


@pytest.mark.parametrize("name", JOBS)
def test_the_job_is_refused_with_the_area_still_on(host_row, name: str) -> None:
    kind, params = JOBS[name]
    backend = _active_zram(host_row)
    device = backend.state["device"]
    before = kernel.find_area(device)
    assert before is not None
    try:
        with attached(device) as dev:
            job = run(job_for(backend, kind, **params))
            assert job.state == Job.State.FAILED, job.log
            assert f"{device} has {dev} attached over it" in job.error, job.error
            assert "This job did not swap the area off." in job.error, job.error  # (229/5)
            area = kernel.find_area(device)
            assert area is not None, job.log  # never swapped off for a refusal
            assert area.priority == before.priority
            assert dev not in active_swaps()
            assert Backend.objects.filter(pk=backend.pk).exists()
            if kind == Job.Kind.EDIT:
                # The edit's priority is recorded already, and the same edit sent again
                # makes no job: the words say both (229/3).
                assert "Its priority 9 is recorded and used at its next activation" in job.error
            backend.refresh_from_db()
            assert backend.size_bytes == 8 * MiB
        # Detached: the same job goes through.
        again = run(job_for(backend, kind, **params))
        assert again.state == Job.State.SUCCEEDED, again.error
    finally:
        left = Backend.objects.filter(pk=backend.pk).first()
        if left is not None:
            gone = run(job_for(left, Job.Kind.DESTROY))
            assert gone.state == Job.State.SUCCEEDED, gone.error


def test_a_block_area_is_destroyed_whatever_reaches_its_bytes(host_row, loop_device) -> None:
    """The block kind releases nothing: its destroy swaps the area off and forgets it,
    the device left as it is, so a loop device over it refuses nothing (229/2)."""
    backend = Backend.objects.create(
        host=host_row, kind="block", name="disk", params={"device": loop_device}
    )
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.error
    on = run(job_for(backend, Job.Kind.ACTIVATE))
    assert on.state == Job.State.SUCCEEDED, on.error
    with attached(loop_device):
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error
        assert loop_device not in active_swaps()
        assert not Backend.objects.filter(pk=backend.pk).exists()
