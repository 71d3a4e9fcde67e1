"""A destroy that fails after it swapped the area off and released its store says so in
its error, beside the step that failed: the person reading it learns that the area is off
and its file gone, not only that an fstab could not be read (248/7). Before, the error was
the last step's words alone, and the area's state had to be found in the job's log. The
backend is kept, and the same destroy goes through once the cause is mended. A failure the
runner tries again says so, not "destroy it again" (249/5), and an area someone swapped on
again since is not said to stay off (249/4)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from backends import kernel
from swapadmin.core.handlers import _half_done
from swapadmin.core.models import Backend, Job
from tests.control.test_an_off_loop_area_is_not_resized_while_its_device_is_claimed import (
    LoopArea,
    loop_area,
)
from tests.control.test_run_job_directly import MiB, backend_on, job_for, run
from tests.fixtures.host import attached_loops, needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

__all__ = ["loop_area"]  # a fixture this module uses


def test_a_destroy_that_fails_after_its_swapoff_says_the_area_is_off(
    host_row, swap_root: Path
) -> None:
    path = swap_root / "half-way"
    backend = backend_on(host_row, path, persist=True)
    for kind in (Job.Kind.PROVISION, Job.Kind.ACTIVATE):
        job = run(job_for(Backend.objects.get(pk=backend.pk), kind))
        assert job.state == Job.State.SUCCEEDED, job.log
    assert kernel.is_active(str(path))
    fstab = Path(settings.SWAPADMIN_FSTAB)
    assert str(path) in fstab.read_text()
    # An fstab that cannot be read, as a real one mis-mounted or mis-made would be: the
    # destroy's last change to the host fails after its swapoff and the file's removal.
    fstab.unlink()
    fstab.mkdir()
    try:
        job = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))

        assert job.state == Job.State.FAILED, job.log
        # The file kind has nothing to release: only what it did is said (251/3).
        said = f"had swapped {path} off (it stays off) and removed {path}."
        assert said in job.error, job.error
        assert "The backend is kept: destroy it again to finish." in job.error, job.error
        assert not kernel.is_active(str(path))
        assert not path.exists()
        assert Backend.objects.filter(pk=backend.pk).exists()
    finally:
        shutil.rmtree(fstab, ignore_errors=True)
    fstab.write_text(f"{path} none swap sw 0 0\n")

    job = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))

    assert job.state == Job.State.SUCCEEDED, job.log
    assert job.result.get("fstab_removed") is True
    assert str(path) not in fstab.read_text()
    assert not Backend.objects.filter(pk=backend.pk).exists()


def test_a_failure_tried_again_says_so(loop_area: LoopArea) -> None:
    """The loop device held open by another process when the destroy, its area swapped off,
    comes to detach it: the job goes back to the queue saying what it had done and that it
    will be tried again; once that process lets go, the next try finishes."""
    backend, device, path = loop_area
    on = run(job_for(backend, Job.Kind.ACTIVATE))
    assert on.state == Job.State.SUCCEEDED, on.log
    held = os.open(device, os.O_RDONLY)
    try:
        job = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))

        assert job.state == Job.State.QUEUED, job.log
        said = f"Before that, this destroy had swapped {device} off (it stays off)"
        assert said in job.log, job.log
        assert "(it stays off). The backend is kept. (will try again in 5 s)" in job.log, job.log
        assert "destroy it again to finish" not in job.log, job.log
        assert not kernel.is_active(device)
    finally:
        os.close(held)
    # The runner's own next try of that job, as signed then: nothing it names has changed.
    again = run(job)
    assert again.state == Job.State.SUCCEEDED, again.log
    assert device not in attached_loops()


def test_a_failure_after_the_release_is_not_tried_again(loop_area: LoopArea) -> None:
    """The file locked by another process when the destroy, its device released, comes to
    remove it: a try the runner would refuse (the row's device is gone since the job was
    signed), so it fails at once with "destroy it again", which then goes through (250/1)."""
    backend, device, path = loop_area
    on = run(job_for(backend, Job.Kind.ACTIVATE))
    assert on.state == Job.State.SUCCEEDED, on.log
    with open(path, "rb") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        job = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))

    assert job.state == Job.State.FAILED, job.log
    assert f"Before that, this destroy had swapped {device} off and released its" in job.error
    assert "The backend is kept: destroy it again to finish." in job.error, job.error
    assert device not in attached_loops()
    gone = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))
    assert gone.state == Job.State.SUCCEEDED, gone.log
    assert not path.exists()


def test_an_area_swapped_on_again_since_is_not_said_to_stay_off(swap_root: Path) -> None:
    path = swap_root / "on-again"
    path.write_bytes(bytes(16 * MiB))
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(path)], check=True)
    assert "(it stays off) and removed it" in _half_done(str(path), ["removed it"])
    subprocess.run(["swapon", str(path)], check=True)
    try:
        said = _half_done(str(path), ["removed it"])
    finally:
        subprocess.run(["swapoff", str(path)], check=True)
    assert said == f"swapped {path} off (something has swapped it on again since) and removed it"
