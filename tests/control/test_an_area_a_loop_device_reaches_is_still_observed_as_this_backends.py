"""A loop device attached over an active file area's file is another name for its pages, not
a sign that the area is someone else's. The read-only looks say so: the observer keeps the
area active (before, the proof every look shares asked the file kind's look for other names
and the row turned FOREIGN, though a deactivate of it went through as this backend's: 238/1);
the health check says the store is this backend's, names the device, and fails, so that no
repair acts on it (236/6). The writes and the swapon still refuse it
(``test_a_loop_device_over_the_file_before_the_job_leaves_the_area_on``)."""

from __future__ import annotations

import pytest

from swapadmin.core.models import Backend, Job
from swapadmin.core.observe import observe_backend
from swapadmin.health.checks import backend_findings
from tests.control.test_a_loop_device_over_the_file_before_the_job_leaves_the_area_on import (
    active_file,
    kept_in_fstab,
)
from tests.control.test_run_job_directly import job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

__all__ = ["active_file", "kept_in_fstab"]  # fixtures this module uses


def test_the_observer_keeps_it_active(active_file: Backend) -> None:
    with attached(active_file.params["path"]):
        assert observe_backend(active_file) == Backend.Observed.ACTIVE
    active_file.refresh_from_db()
    assert active_file.observed_state == Backend.Observed.ACTIVE, active_file.observed_error


def test_the_health_check_says_whose_it_is_and_what_else_reaches_it(active_file: Backend) -> None:
    path = active_file.params["path"]
    (alone,) = [f for f in backend_findings(active_file) if f.check == "identity"]
    assert alone.status == "ok", alone.message  # the look itself finds nothing else
    with attached(path) as dev:
        (identity,) = [f for f in backend_findings(active_file) if f.check == "identity"]
    assert identity.status == "fail", identity.message
    assert identity.message.startswith(
        f"the store at the path is this backend's (identity and swap UUID), but {path} is "
        f"attached to {dev}"
    ), identity.message
    assert f"losetup -d {dev}" in identity.message


def test_no_repair_swaps_it_on_while_another_name_reaches_it(active_file: Backend) -> None:
    """Off while it should be on: the drift's repair would swap on pages a loop device
    reaches (the worker's swapon would refuse it); the identity check's failure withholds
    it, as for a store not this backend's (as it did when the proof itself refused it)."""
    path = active_file.params["path"]
    off = run(job_for(active_file, Job.Kind.DEACTIVATE))
    assert off.state == Job.State.SUCCEEDED, off.error
    Backend.objects.filter(pk=active_file.pk).update(desired_state=Backend.Desired.ACTIVE)
    active_file.refresh_from_db()
    with attached(path) as dev:
        found = {f.check: f for f in backend_findings(active_file)}
    assert found["identity"].status == "fail" and dev in found["identity"].message
    assert found["drift"].status == "fail" and "repair" not in found["drift"].value
