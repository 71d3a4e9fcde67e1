"""A loop backend whose file's name ends in a space, its record of its device lost (a crash
between the attach and the save): the next job finds the device it attached by the name
sysfs gives the backing file, and attaches no second one beside it. Before (247/3), the
name read from sysfs was stripped of its space too, so it never matched the backend's path:
the device was never found again, and an activate refused the backend's own device as
another name for the file's bytes ("Detach it first")."""

from __future__ import annotations

from pathlib import Path

import pytest

from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import active_swaps, attached_loops, needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


def test_its_device_is_found_again_and_no_second_is_attached(host_row, swap_root: Path) -> None:
    path = swap_root / "area "
    backend = Backend.objects.create(
        host=host_row, kind="loop", name="spaced", params={"path": str(path)}, size_bytes=16 * MiB
    )
    try:
        made = run(job_for(backend, Job.Kind.PROVISION))
        assert made.state == Job.State.SUCCEEDED, made.error
        device = Backend.objects.get(pk=backend.pk).state["device"]
        lost = {k: v for k, v in Backend.objects.get(pk=backend.pk).state.items() if k != "device"}
        Backend.objects.filter(pk=backend.pk).update(state=lost)

        on = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.ACTIVATE))

        assert on.state == Job.State.SUCCEEDED, on.log
        assert Backend.objects.get(pk=backend.pk).state["device"] == device
        assert [d for d, f in attached_loops().items() if f == str(path)] == [device]
    finally:
        # No assert here, which would hide the test's own failure: the row destroyed, and
        # any device the destroy left over the file taken down by hand (swapped off first).
        left = Backend.objects.filter(pk=backend.pk).first()
        if left is not None:
            run(job_for(left, Job.Kind.DESTROY))
        stayed = [d for d, f in attached_loops().items() if f in (str(path), f"{path} (deleted)")]
        for dev in stayed:
            if dev in active_swaps():
                sh("swapoff", dev, check=False)
            sh("losetup", "-d", dev, check=False)
    gone = Backend.objects.filter(pk=backend.pk).first()
    assert gone is None, gone.state if gone else None
    assert stayed == [], "the destroy left a device over the file"
