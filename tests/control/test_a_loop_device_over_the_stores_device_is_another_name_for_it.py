"""A loop device attached over the store's own block device (the loop kind's device, a zram
device, a disk) is another name for its bytes: anyone may swap on or mount them through it,
and the O_EXCL open of the device does not stop the attach. Before, nothing looked for one
(the default ``check_exclusive`` knew of nothing): a resize rewrote page 0 under the loop
device someone had swapped on, then swapped the store on too, two areas over the same bytes
(review 226/1). Now every kind's proof (``check_alone``) refuses while one is attached."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from swapadmin.core import handlers
from swapadmin.core.models import Backend, Job
from swapadmin.core.observe import observe_backend
from tests.control.test_a_swapon_again_makes_no_store import _active_zram
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.by_hand import after, attached
from tests.fixtures.host import active_swaps, needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


def _page0(device: str) -> bytes:
    with open(device, "rb") as f:
        return f.read(4096)


def test_a_resize_never_writes_under_a_loop_device_over_its_device(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = swap_root / "area"
    backend = Backend.objects.create(
        host=host_row, kind="loop", name="area", params={"path": str(path)}, size_bytes=16 * MiB
    )
    made = run(job_for(backend, Job.Kind.PROVISION, activate=True))
    assert made.state == Job.State.SUCCEEDED, made.error
    backend.refresh_from_db()
    device = backend.state["device"]
    loops = contextlib.ExitStack()
    over: list[str] = []

    def swapped_on_through_another_name() -> None:
        dev = loops.enter_context(attached(device))
        over.append(dev)
        sh("swapon", dev)

    try:
        with loops, monkeypatch.context() as m:
            m.setattr(handlers, "_mkswap", after(swapped_on_through_another_name, handlers._mkswap))
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=24 * MiB))
            assert over and over[0] in active_swaps()
            assert job.state == Job.State.FAILED, job.log
            assert f"{device} has {over[0]} attached over it" in job.error, job.error
            assert device not in active_swaps()  # never a second area over the same bytes
    finally:
        gone = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


@pytest.mark.usefixtures("zram_cleanup")
def test_a_zram_area_with_a_loop_device_over_it_is_neither_written_nor_swapped_on(
    host_row,
) -> None:
    backend = _active_zram(host_row)
    device = backend.state["device"]
    try:
        off = run(job_for(backend, Job.Kind.DEACTIVATE))
        assert off.state == Job.State.SUCCEEDED, off.error
        before = _page0(device)
        with attached(device) as dev:
            scan = run(job_for(backend, Job.Kind.SCAN))
            assert scan.state == Job.State.FAILED, scan.log
            assert f"{device} has {dev} attached over it" in scan.error, scan.error
            on = run(job_for(backend, Job.Kind.ACTIVATE))
            assert on.state == Job.State.FAILED, on.log
            assert f"{device} has {dev} attached over it" in on.error, on.error
            assert device not in active_swaps()
            assert _page0(device) == before
        on = run(job_for(backend, Job.Kind.ACTIVATE))  # detached: its own again
        assert on.state == Job.State.SUCCEEDED, on.error
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_an_off_loop_area_is_not_resized_under_a_loop_device_swapped_on_over_it(
    host_row, swap_root: Path
) -> None:
    """The area is off, its loop device attached; someone attaches another loop device over
    that device and swaps it on: the resize works through the file, which no look at the
    file sees as active. It is refused before the file is cut (review 227/1)."""
    path = swap_root / "area"
    backend = Backend.objects.create(
        host=host_row, kind="loop", name="area", params={"path": str(path)}, size_bytes=16 * MiB
    )
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.error
    backend.refresh_from_db()
    device = backend.state["device"]
    try:
        with attached(device) as dev:
            sh("swapon", dev)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
            assert job.state == Job.State.FAILED, job.log
            assert f"{device}, this backend's loop device, has {dev} attached over it" in (
                job.error
            ), job.error
            assert path.stat().st_size == 16 * MiB  # never cut under their area
            assert dev in active_swaps()
    finally:
        gone = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


@pytest.mark.usefixtures("zram_cleanup")
def test_an_area_with_a_loop_device_over_it_is_still_seen_ours_and_swapped_off(
    host_row,
) -> None:
    """A loop device over an active area's device refuses writes and swapons, not the
    swapoff nor the look: the area is still this backend's, active (review 227/4)."""
    backend = _active_zram(host_row)
    device = backend.state["device"]
    try:
        with attached(device):
            assert observe_backend(backend) == Backend.Observed.ACTIVE
            off = run(job_for(backend, Job.Kind.DEACTIVATE))
            assert off.state == Job.State.SUCCEEDED, off.error
            assert device not in active_swaps()
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error
