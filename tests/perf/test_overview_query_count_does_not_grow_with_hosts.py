"""The overview page and the API lists cost the same number of SQL queries for 5 hosts as for
50: a query per host (an N+1) would make a 500-host fleet's dashboard crawl, so it is a
correctness property here, not a benchmark (bench/bench_control_plane.py has the timings)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from swapadmin.core.models import Backend, Host, Job
from swapadmin.health.models import BackendHealth, HostHealth
from swapadmin.web import views
from tests.fixtures.tokens import token_for

BACKENDS_PER_HOST = 3
OBSERVED = {
    "meminfo": {"mem_total": 8 << 30, "mem_available": 5 << 30, "swap_total": 2 << 30,
                "swap_free": 1 << 30, "swap_cached": 0},
    "rates": {"pswpin": 1.0, "pswpout": 2.0},
    "psi": {"some_avg10": 1.5, "full_avg10": 0.0},
}  # fmt: skip


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_live_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every fetch here draws the page: a cached live region would be counted as no queries.
    monkeypatch.setattr(views, "_live_cache", None)
    monkeypatch.setattr(views, "LIVE_CACHE_SECONDS", 0)


def grow_fleet_to(count: int) -> None:
    """Hosts with backends, health rows (a warning on each), and a live job on some, so every
    relation the pages and serializers follow has rows to follow."""
    now = timezone.now()
    for i in range(Host.objects.count(), count):
        host = Host.objects.create(
            name=f"host{i:03d}", observed=OBSERVED, observed_at=now, last_heartbeat=now
        )
        HostHealth.objects.create(host=host, status="warn", summary="PSI some 30%")
        for j in range(BACKENDS_PER_HOST):
            backend = Backend.objects.create(
                host=host, kind="file", name=f"swap{j}", params={"path": f"/var/swap/s{j}"},
                size_bytes=1 << 30, observed_state=Backend.Observed.ACTIVE, used_bytes=1 << 20,
            )  # fmt: skip
            BackendHealth.objects.create(backend=backend, status="fail", summary="bad pages")
        Job.objects.create(kind=Job.Kind.SCAN, host=host, backend=backend, state="running")


def queries(fetch: Any) -> int:
    fetch()  # warm: the session, the user's groups and content types are read once per client
    with CaptureQueriesContext(connection) as ctx:
        response = fetch()
    assert response.status_code == 200, response.content[:500]
    return len(ctx.captured_queries)


def counts_at(sizes: tuple[int, ...], fetch: Any) -> list[int]:
    out = []
    for size in sizes:
        grow_fleet_to(size)
        out.append(queries(fetch))
    return out


@pytest.fixture
def page_client(client: Client, victor: User) -> Client:
    client.force_login(victor)
    return client


@pytest.fixture
def api_client(victor: User) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token_for(victor)}")


def test_the_overview_page_does_not_grow(page_client: Client) -> None:
    small, large = counts_at((5, 50), lambda: page_client.get(reverse("overview")))
    assert small == large


def test_the_overview_partial_does_not_grow(page_client: Client) -> None:
    def fetch() -> Any:
        return page_client.get(reverse("overview"), headers={"HX-Request": "true"})

    small, large = counts_at((5, 50), fetch)
    assert small == large


def test_the_hosts_list_does_not_grow(api_client: Client) -> None:
    # A limit above the fleet, so the 50 hosts are all on the page the count is taken from.
    small, large = counts_at((5, 50), lambda: api_client.get("/api/v1/hosts/?limit=1000"))
    assert small == large


def test_the_backends_list_does_not_grow(api_client: Client) -> None:
    small, large = counts_at((5, 50), lambda: api_client.get("/api/v1/backends/?limit=1000"))
    assert small == large
