"""/metrics: the registry in the Prometheus text format, for a token or an allowed address."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from swapadmin.core.models import Backend, Host, Job
from swapadmin.health.models import BackendHealth

from .conftest import PAGE


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def scraped(
    victor: User, host_row: Host, make_backend: Callable[..., Backend],
    as_user: Callable[..., APIClient],
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:  # fmt: skip
    Host.objects.filter(pk=host_row.pk).update(
        observed={"vmstat": {"pswpin": 120, "pswpout": 4500}}
    )
    active = make_backend(
        "s0", observed_state="active", used_bytes=5 * PAGE, priority=3, active_priority=3
    )
    make_backend("s1", size_bytes=32 * PAGE)
    BackendHealth.objects.create(backend=active, status="warn")
    Job.objects.create(kind="scan", host=host_row, backend=active, state="failed")
    r = as_user(victor).get("/metrics")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(r.content.decode())


def test_it_speaks_openmetrics_when_asked(victor: User, as_user: Callable[..., APIClient]) -> None:
    r = as_user(victor).get("/metrics", HTTP_ACCEPT="application/openmetrics-text")
    assert r["Content-Type"].startswith("application/openmetrics-text")
    assert r.content.decode().endswith("# EOF\n")


def test_it_exports_backends_hosts_jobs_and_health(scraped: dict) -> None:
    s0 = (("backend", "s0"), ("host", "testhost"), ("kind", "file"))
    s1 = (("backend", "s1"), ("host", "testhost"), ("kind", "file"))
    assert scraped[("swapadmin_backend_size_bytes", s0)] == 64 * PAGE
    assert scraped[("swapadmin_backend_size_bytes", s1)] == 32 * PAGE
    assert scraped[("swapadmin_backend_used_bytes", s0)] == 5 * PAGE
    assert scraped[("swapadmin_backend_priority", s0)] == 3
    assert ("swapadmin_backend_priority", s1) not in scraped
    assert scraped[("swapadmin_backend_active", s0)] == 1
    assert scraped[("swapadmin_backend_active", s1)] == 0
    host = (("host", "testhost"),)
    assert scraped[("swapadmin_host_online", host)] == 1
    assert scraped[("swapadmin_host_swap_in_pages_total", host)] == 120
    assert scraped[("swapadmin_host_swap_out_pages_total", host)] == 4500
    assert scraped[("swapadmin_jobs", (("state", "failed"),))] == 1
    assert scraped[("swapadmin_jobs", (("state", "queued"),))] == 0
    warn = (("backend", "s0"), ("host", "testhost"), ("status", "warn"))
    ok = (("backend", "s0"), ("host", "testhost"), ("status", "ok"))
    assert scraped[("swapadmin_backend_health_status", warn)] == 1
    assert scraped[("swapadmin_backend_health_status", ok)] == 0


def test_it_needs_a_token_from_elsewhere(db: None, nora: User, settings: object) -> None:
    r = Client(REMOTE_ADDR="192.0.2.7").get("/metrics")
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == "Token"
    bad = Client(REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION="Token nope").get("/metrics")
    assert bad.status_code == 401


def test_a_user_without_a_role_is_refused(nora: User, as_user: Callable[..., APIClient]) -> None:
    assert as_user(nora).get("/metrics").status_code == 403


def test_allowed_addresses_need_no_token(db: None, settings: object) -> None:
    settings.SWAPADMIN_METRICS_ALLOWED_IPS = ["10.0.0.0/8", "::1"]  # type: ignore[attr-defined]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="11.1.2.3").get("/metrics").status_code == 401
