"""On a fleet host the repair of a drift is queued by the control plane at its next round,
up to a minute after the check found it. If the user changed what the backend should be
meanwhile (deactivated the area the check found "should be active but is not"), the
check's finding is about a wish that is gone: repairing from it would activate the area
the user has just deactivated."""

from __future__ import annotations

import pytest

from backends import kernel
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from swapadmin.health.checks import check_backend
from swapadmin.health.probes import Thresholds
from swapadmin.health.tasks import repair_drifted

pytestmark = [pytest.mark.root, pytest.mark.django_db]


def test_a_deactivate_after_the_check_is_not_undone(make_file_backend, alice, settings):
    backend = make_file_backend(desired=Backend.Desired.ACTIVE, auto_repair=True)
    key = settings.SWAPADMIN_SIGNING_KEY
    settings.SWAPADMIN_SIGNING_KEY = ""  # the host's worker: it records, queues nothing
    result, _ = check_backend(backend.host, backend, Thresholds.from_settings(), None)
    settings.SWAPADMIN_SIGNING_KEY = key  # the control plane from here on
    drift = next(f for f in result.findings if f["check"] == "drift")
    assert (drift["status"], drift["value"]["repair"]) == ("fail", "activate")

    deactivate = services.request_action(backend, "deactivate", Actor(alice, Job.Via.API))
    Job.objects.filter(pk=deactivate.pk).update(state=Job.State.SUCCEEDED)

    assert repair_drifted() == 0
    assert not Job.objects.filter(backend=backend, kind="activate").exists()
    assert kernel.find_area(backend.params["path"]) is None

    # The drift the check found is still repaired when the wish is unchanged.
    Backend.objects.filter(pk=backend.pk).update(desired_state=Backend.Desired.ACTIVE)
    assert repair_drifted() == 1
    assert Job.objects.filter(backend=backend, kind="activate").count() == 1
