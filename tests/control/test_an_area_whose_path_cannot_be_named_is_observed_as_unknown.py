"""A backend whose path cannot be named (a boot id or sysfs that cannot be read) is neither
"inactive" on its page nor drifted in its health check: whether its area is active is
unknown, and both say so and why. Before, the observer and the health probes took any error
from ``swap_path`` for "no device, so not active": an active zram area showed as ready with
0 bytes used, and the health check reported drift ("should be active but is not") with an
activate as its repair.

The fixture observes the active area before its test and destroys it after: the observer
closes the store it read the header through, on every path. Before, an active area's
descriptor stayed open until the garbage collector ran, and the destroy's zram reset failed
with EBUSY.

Only ``NoDeviceError`` (a loop device not attached, a zram device of another boot) means
"not active"; see test_a_deactivate_that_cannot_name_its_device_fails for the jobs."""

from __future__ import annotations

import pytest

from backends import kernel
from backends.plugins.zram import BOOT_ID_FILE_ENV
from swapadmin.core.models import Backend, Job
from swapadmin.core.observe import observe_backend
from swapadmin.health.checks import backend_findings
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import needs_root

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("on_testhost", "zram_cleanup"),
    needs_root,
]


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


def test_the_observer_records_unknown_with_why_not_inactive(active_zram, unreadable_boot_id):
    priority = active_zram.active_priority
    assert priority is not None
    used_before = active_zram.used_bytes

    state = observe_backend(active_zram)

    assert state == Backend.Observed.ERROR
    active_zram.refresh_from_db()
    assert active_zram.observed_state == Backend.Observed.ERROR
    assert active_zram.observed_error == unreadable_boot_id
    assert active_zram.used_bytes == used_before
    assert active_zram.active_priority == priority


def test_the_health_check_reports_unknown_drift_with_no_repair(active_zram, unreadable_boot_id):
    assert kernel.is_active(active_zram.state["device"])

    drift = [f for f in backend_findings(active_zram) if f.check == "drift"]

    assert len(drift) == 1
    assert drift[0].status == "fail"
    assert drift[0].message == unreadable_boot_id
    assert drift[0].value == {"desired": "active", "observed": "unknown"}
