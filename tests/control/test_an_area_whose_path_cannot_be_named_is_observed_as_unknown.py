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
from swapadmin.core.models import Backend
from swapadmin.core.observe import observe_backend
from swapadmin.health.checks import backend_findings
from tests.fixtures.host import needs_root, zram_holders

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("on_testhost", "zram_cleanup"),  # active_zram: conftest
    needs_root,
]


def test_the_observer_records_unknown_with_why_not_inactive(active_zram, unreadable_boot_id):
    priority = active_zram.active_priority
    assert priority is not None
    # A figure no look at a fresh device would give: the observer must keep the last seen,
    # not write the kernel's 0 (or anything else) over it.
    last_seen = 12345 * 4096
    Backend.objects.filter(pk=active_zram.pk).update(used_bytes=last_seen)
    active_zram.refresh_from_db()
    described = active_zram.info
    assert described["swap_path"] == active_zram.state["device"]

    state = observe_backend(active_zram)

    assert state == Backend.Observed.INDETERMINATE
    active_zram.refresh_from_db()
    assert active_zram.observed_state == Backend.Observed.INDETERMINATE
    assert active_zram.observed_error == unreadable_boot_id
    assert active_zram.used_bytes == last_seen
    assert active_zram.active_priority == priority
    # Nor is the description, read without a path, written over the one that names it.
    assert active_zram.info == described


def test_the_observer_leaves_no_descriptor_of_the_store_open(active_zram):
    """The fixture observed the active area, reading its header through the plugin: no
    descriptor of the device may outlive that look, or the destroy cannot reset it."""
    dev = active_zram.state["device"]
    observe_backend(active_zram)

    assert zram_holders(dev) == f"{dev} is active swap"


def test_the_health_check_reports_unknown_drift_with_no_repair(active_zram, unreadable_boot_id):
    assert kernel.is_active(active_zram.state["device"])

    drift = [f for f in backend_findings(active_zram) if f.check == "drift"]

    assert len(drift) == 1
    assert drift[0].status == "fail"
    assert drift[0].message == unreadable_boot_id
    assert drift[0].value == {"desired": "active", "observed": "unknown"}
