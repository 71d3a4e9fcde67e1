"""Use, swap-in rate and memory pressure are judged from real readings: a memory hog in a
memory cgroup makes the kernel swap to the test's own area (the highest priority there is),
and one that keeps touching its pages makes pages come back in and tasks stall."""

from __future__ import annotations

import pytest

from backends import kernel
from swapadmin.core.models import Backend
from swapadmin.health.checks import run_backend_check

from .conftest import MiB, check_job, findings_by_check, swapon, wait_for

pytestmark = [pytest.mark.root, pytest.mark.django_db]


@pytest.fixture
def active_area(make_file_backend):
    backend = make_file_backend(size=128 * MiB, desired=Backend.Desired.ACTIVE, priority=32767)
    swapon(backend)
    return backend


def test_used_fraction_against_the_thresholds(active_area, memory_hog, settings):
    path = active_area.params["path"]
    memory_hog(96 * MiB, 48 * MiB)
    area = wait_for(
        lambda: (a := kernel.find_area(path)) is not None and a.used_bytes >= 8 * MiB and a,
        30,
        "the hog's pages in our swap area",
    )
    fraction = area.used_bytes / area.size_bytes

    settings.SWAPADMIN_HEALTH_USED_WARN = fraction / 2
    settings.SWAPADMIN_HEALTH_USED_FAIL = 0.999
    used = findings_by_check(run_backend_check(check_job(active_area)))["used"]
    # The hog may still be pushing pages out while the check reads the area (on one slow
    # CPU its use grew from 42% to 63% in between): the check's figure lies between the
    # readings taken before and after it, not at the first.
    after = kernel.find_area(path)
    assert after is not None
    assert used["status"] == "warn"
    low, high = sorted((fraction, after.used_bytes / after.size_bytes))
    assert low - 0.01 <= used["value"]["fraction"] <= high + 0.01
    assert used["value"]["size_bytes"] == area.size_bytes

    settings.SWAPADMIN_HEALTH_USED_FAIL = fraction / 2
    result = run_backend_check(check_job(active_area))
    assert findings_by_check(result)["used"]["status"] == "fail"
    assert result["status"] == "fail"

    settings.SWAPADMIN_HEALTH_USED_WARN = 0.99
    settings.SWAPADMIN_HEALTH_USED_FAIL = 0.999
    assert findings_by_check(run_backend_check(check_job(active_area)))["used"]["status"] == "ok"


def test_thrashing_shows_in_swap_in_rate_and_pressure(active_area, memory_hog, settings):
    settings.SWAPADMIN_HEALTH_HOST_CHECK_SECONDS = 0  # look at the host on every check
    memory_hog(96 * MiB, 32 * MiB, thrash=True)
    psi = wait_for(
        lambda: (p := kernel.psi_memory()) is not None and p.some_avg10 >= 1.0 and p,
        30,
        "memory pressure from the thrashing hog",
    )

    # Thresholds above what the machine shows: all well.
    settings.SWAPADMIN_HEALTH_SWAPIN_WARN = 10**9
    settings.SWAPADMIN_HEALTH_PSI_SOME_WARN = 100.0
    settings.SWAPADMIN_HEALTH_PSI_FULL_WARN = 100.0
    settings.SWAPADMIN_HEALTH_PSI_FULL_FAIL = 100.0
    host = findings_by_check(run_backend_check(check_job(active_area))["host"])
    assert host["psi"]["status"] == "ok"
    assert host["swapin_rate"]["status"] == "ok"
    assert host["swapin_rate"]["value"] > 0  # pages really come back in

    # Stalls above the warning level: a warning, with the measured value.
    settings.SWAPADMIN_HEALTH_PSI_SOME_WARN = psi.some_avg10 / 4
    host = findings_by_check(run_backend_check(check_job(active_area))["host"])
    assert host["psi"]["status"] == "warn"
    assert host["psi"]["value"]["some_avg10"] >= psi.some_avg10 / 4

    # Fast swap-in while every task stalls: thrashing, a failure.
    settings.SWAPADMIN_HEALTH_SWAPIN_WARN = 1
    full = wait_for(
        lambda: (p := kernel.psi_memory()) is not None and p.full_avg10 > 0 and p.full_avg10,
        20,
        "full memory stalls",
    )
    settings.SWAPADMIN_HEALTH_PSI_FULL_WARN = full / 4
    result = run_backend_check(check_job(active_area))["host"]
    host = findings_by_check(result)
    assert host["swapin_rate"]["status"] == "warn"
    assert host["psi"]["status"] == "fail"
    assert "thrashing" in host["psi"]["message"]
    assert result["status"] == "fail"
