from __future__ import annotations

from pathlib import Path

import pytest

from backends.plugins.zram import BOOT_ID_FILE_ENV
from swapadmin.core.models import Backend, Job
from swapadmin.core.observe import observe_backend
from tests.control.test_run_job_directly import MiB, job_for, run


@pytest.fixture
def on_testhost(settings, tmp_path: Path) -> None:
    """This process plays the worker of ``host_row`` ("testhost"), with its own lock dir."""
    settings.SWAPADMIN_HOST = "testhost"
    settings.DATA_DIR = tmp_path
    settings.SWAPADMIN_FSTAB = tmp_path / "fstab"


# An active zram area, and a boot id that cannot be read so that its path cannot be named:
# tests/control/test_an_area_whose_path_cannot_be_named_is_observed_as_unknown.py and
# tests/control/test_an_area_that_cannot_be_told_is_unknown_to_every_reader.py.
@pytest.fixture
def active_zram(host_row):
    backend = Backend.objects.create(
        host=host_row,
        kind="zram",
        name="z",
        params={},
        size_bytes=8 * MiB,
        desired_state=Backend.Desired.ACTIVE,
    )
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.error
    on = run(job_for(backend, Job.Kind.ACTIVATE))
    assert on.state == Job.State.SUCCEEDED, on.error
    backend.refresh_from_db()
    assert observe_backend(backend) == Backend.Observed.ACTIVE
    try:
        yield backend
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


@pytest.fixture
def unreadable_boot_id(scratch, monkeypatch):
    missing = scratch / "boot_id"
    monkeypatch.setenv(BOOT_ID_FILE_ENV, str(missing))
    yield (
        "cannot tell whether the zram (compressed RAM) area is active: its path could not be "
        f"named: cannot read {missing} ({BOOT_ID_FILE_ENV}): No such file or directory"
    )
    # Before the fixture that destroys the area, which must name its device.
    monkeypatch.delenv(BOOT_ID_FILE_ENV, raising=False)
