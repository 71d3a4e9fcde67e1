"""A destroy that fails after it swapped the area off and released its store says so in
its error, beside the step that failed: the person reading it learns that the area is off
and its file gone, not only that an fstab could not be read (248/7). Before, the error was
the last step's words alone, and the area's state had to be found in the job's log. The
backend is kept, and the same destroy goes through once the cause is mended."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings

from backends import kernel
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import backend_on, job_for, run
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


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
        assert f"swapped {path} off (it stays off)" in job.error, job.error
        assert f"removed {path}" in job.error, job.error
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
