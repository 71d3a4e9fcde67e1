"""Once the observer has found that whether an area is active cannot be told (its path could
not be named: a boot id that cannot be read), every reader of the row says "cannot tell"
and acts on no guess. Before (review 156):

- the sampler wrote "active" over the verdict within one sample, from the path last
  described, or "absent";
- the pages took it for inactive and offered Activate, Scan, Benchmark, Resize and Destroy,
  which the worker then refused (a destroy asked marked the row leaving first), and showed
  its last priority as the kernel's;
- the health check said the store was fine ("no file or device to look at while the area is
  released") and nothing of its identity, header or use;
- the unknown drift, which asks for no repair, reset the auto-repair back-off;
- the metrics said the area was off and empty;
- and nothing but a job's end or a worker's start looked again: now each health round does.

On a real active zram area; ``active_zram`` and ``unreadable_boot_id`` are in conftest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from backends import kernel
from backends.plugins.zram import BOOT_ID_FILE_ENV
from swapadmin.core.models import Backend
from swapadmin.core.observe import observe_backend
from swapadmin.core.sampler import Reading, take_sample
from swapadmin.health.checks import backend_findings, check_backend
from swapadmin.health.models import BackendHealth
from swapadmin.health.probes import Thresholds
from swapadmin.health.repair import maybe_repair
from swapadmin.web.views import offered_actions, stage_of
from tests.fixtures.host import needs_root

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("on_testhost", "zram_cleanup"),
    needs_root,
]

LAST_SEEN = 777 * 4096
#: The health probes that cannot look while the path cannot be named, and what each says.
COULD_NOT = {
    "store": "tell which file or device to look at",
    "identity": "prove the store is this backend's",
    "header": "read the swap header",
    "used": "tell how much of the area is in use",
    "fstab": "tell whether its fstab line is there",
}


@pytest.fixture
def untold(active_zram, unreadable_boot_id) -> Backend:
    """The area, active in the kernel, observed as "cannot tell", with a used figure no
    fresh device would give, so that a reader that writes or shows the kernel's shows."""
    Backend.objects.filter(pk=active_zram.pk).update(used_bytes=LAST_SEEN)
    active_zram.refresh_from_db()
    assert observe_backend(active_zram) == Backend.Observed.INDETERMINATE
    assert kernel.is_active(active_zram.state["device"])
    return active_zram


def test_a_sample_keeps_the_verdict_and_neither_counts_nor_offers_the_area(untold, host_row):
    dev = untold.state["device"]

    sample = take_sample(host_row, Reading())

    untold.refresh_from_db()
    assert untold.observed_state == Backend.Observed.INDETERMINATE
    assert untold.used_bytes == LAST_SEEN
    assert str(untold.uuid) not in sample.backends
    host_row.refresh_from_db()
    assert dev in [a["path"] for a in host_row.observed["areas"]]
    assert dev not in [a["path"] for a in host_row.observed["unmanaged"]]


def test_the_page_says_cannot_tell_and_offers_no_action_that_guesses(untold, admin_client):
    assert stage_of(untold) == "indeterminate"
    assert [a.name for a in offered_actions(untold)] == ["check"]

    page = admin_client.get(reverse("backend", args=[untold.uuid]))

    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-state="indeterminate">cannot tell if active</span>' in html
    assert "last seen: 3.0 MiB used" in html
    assert "not in use" not in html
    assert "last seen in the kernel" in html  # its priority
    assert 'data-action="check"' in html
    for action in ("activate", "deactivate", "scan", "benchmark", "burn_in", "destroy"):
        assert f'data-action="{action}"' not in html
        assert f'id="test-{action}"' not in html  # the forms with settings
    assert 'id="resize-submit"' not in html


def test_the_health_check_warns_of_each_look_it_could_not_take(untold, unreadable_boot_id):
    found = {f.check: (f.status, f.message) for f in backend_findings(untold)}

    assert {check: found.get(check) for check in COULD_NOT} == {
        check: ("warn", f"{unreadable_boot_id}; so this check could not {what}")
        for check, what in COULD_NOT.items()
    }


def test_an_unknown_drift_keeps_the_repair_back_off(untold):
    later = timezone.now() + timedelta(hours=1)
    BackendHealth.objects.create(backend=untold, repair_attempts=3, next_repair_at=later)
    findings = [f.as_dict() for f in backend_findings(untold)]
    assert [f["value"]["observed"] for f in findings if f["check"] == "drift"] == ["unknown"]

    assert maybe_repair(untold, findings) is None

    health = BackendHealth.objects.get(backend=untold)
    assert (health.repair_attempts, health.next_repair_at) == (3, later)


def test_the_metrics_give_no_sample_of_its_use_or_activity(untold):
    text = Client().get("/metrics").content.decode()

    series = {
        (s.name, s.labels.get("backend"))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert ("swapadmin_backend_size_bytes", untold.name) in series
    assert ("swapadmin_backend_active", untold.name) not in series
    assert ("swapadmin_backend_used_bytes", untold.name) not in series
    # Its last priority in the kernel is not given as the kernel's; none was asked.
    assert untold.priority is None and untold.active_priority is not None
    assert ("swapadmin_backend_priority", untold.name) not in series


def test_the_metrics_say_the_state(untold):
    text = Client().get("/metrics").content.decode()

    states = {
        s.labels["state"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "swapadmin_backend_observed_state" and s.labels["backend"] == untold.name
    }
    assert states == {"indeterminate": 1.0}


def test_a_health_round_looks_again_and_ends_the_verdict_once_it_can_tell(
    untold, host_row, monkeypatch
):
    th = Thresholds.from_settings()
    check_backend(host_row, untold, th, None)
    untold.refresh_from_db()
    assert untold.observed_state == Backend.Observed.INDETERMINATE  # still cannot tell

    monkeypatch.delenv(BOOT_ID_FILE_ENV)  # the boot id is readable again
    result, repair = check_backend(host_row, untold, th, None)

    untold.refresh_from_db()
    assert untold.observed_state == Backend.Observed.ACTIVE
    assert untold.observed_error == ""
    assert untold.used_bytes != LAST_SEEN
    drift = [f for f in result.findings if f["check"] == "drift"]
    assert drift[0]["value"] == {"desired": "active", "observed": "active"}
