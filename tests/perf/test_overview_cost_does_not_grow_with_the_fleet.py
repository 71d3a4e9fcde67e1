"""The overview page and its live region cost the same at 500 hosts as at 50: the same SQL
queries and the same number of host rows drawn (a page of 50). Only the fleet's totals read
every host, as one aggregate over narrow columns (web/fleet.totals).

No time is asserted: a test must not depend on the machine's speed. The times are
bench's (docs/BENCHMARKS-control-plane.md, table 3)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from swapadmin.core.models import Backend, Host
from swapadmin.health.models import BackendHealth, HostHealth
from swapadmin.web.fleet import PAGE_SIZE

BACKENDS_PER_HOST = 4
OBSERVED = {
    "meminfo": {"mem_total": 8 << 30, "mem_available": 5 << 30, "swap_total": 2 << 30,
                "swap_free": 1 << 30, "swap_cached": 0},
    "rates": {"pswpin": 1.0, "pswpout": 2.0},
    "psi": {"some_avg10": 1.5, "full_avg10": 0.0},
    "unmanaged": [],
}  # fmt: skip
#: The cases each fleet size is drawn for: plain, and the paths that read the most.
CASES = (
    ({}, {}),
    ({"HX-Request": "true", "HX-Target": "live"}, {}),
    ({}, {"sort": "health", "page": "1"}),
    ({}, {"q": "host0", "sort": "swap", "health": "fail", "kind": "file"}),
)


pytestmark = pytest.mark.usefixtures("no_live_cache", "fast_passwords")


def grow_fleet_to(count: int) -> None:
    """Hosts with backends and health rows (a failing backend on every host), in bulk."""
    now = timezone.now()
    hosts = Host.objects.bulk_create(
        Host(name=f"host{i:04d}", observed=OBSERVED, observed_at=now, last_heartbeat=now)
        for i in range(Host.objects.count(), count)
    )  # fmt: skip
    HostHealth.objects.bulk_create(HostHealth(host=h, status="warn") for h in hosts)
    backends = Backend.objects.bulk_create(
        Backend(host=h, kind="file", name=f"swap{j}", params={"path": f"/s{j}"},
                observed_state="active")
        for h in hosts for j in range(BACKENDS_PER_HOST)
    )  # fmt: skip
    BackendHealth.objects.bulk_create(
        BackendHealth(backend=b, status="fail", summary="bad pages") for b in backends
    )


def draw(client: Client, headers: dict[str, str], params: dict[str, str]) -> tuple[int, int]:
    """(queries, host rows drawn) for one drawing of the overview."""
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(reverse("overview"), params, headers=headers)
    assert r.status_code == 200, r.content[:300]
    return len(ctx.captured_queries), len(re.findall(r'<tr data-host="', r.content.decode()))


@pytest.fixture
def viewer(client: Client, victor: User) -> Client:
    client.force_login(victor)
    client.get(reverse("overview"))  # the session and the user's groups, read once
    return client


@pytest.mark.parametrize(("headers", "params"), CASES)
def test_the_same_queries_and_rows_at_50_and_500_hosts(
    viewer: Client, headers: dict[str, str], params: dict[str, str]
) -> None:
    grow_fleet_to(50)
    small = draw(viewer, headers, params)
    grow_fleet_to(500)
    large = draw(viewer, headers, params)
    assert small == large
    assert large[1] == PAGE_SIZE
