"""/metrics: the registry's state in the Prometheus text format.

A custom collector reads the database at scrape time: the web process never reads /proc of
its own machine (a host's numbers are what its worker last stored). Readable with an API
token (any role) or from the addresses in SWAPADMIN_METRICS_ALLOWED_IPS (an address or a
network per entry), so a Prometheus on the same machine or network needs no secret.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from rest_framework.exceptions import AuthenticationFailed

from swapadmin.accounts.auth import TokenAuthentication
from swapadmin.core import roles
from swapadmin.core.clientip import client_ip
from swapadmin.core.models import Backend, Host, Job
from swapadmin.health.models import BackendHealth
from swapadmin.health.models import Status as HealthStatus


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def host_counter(observed: Any, *names: str) -> float | None:
    """A cumulative counter from the worker's snapshot, wherever the sampler keeps it
    (top level or under ``vmstat``)."""
    if not isinstance(observed, dict):
        return None
    for where in (observed, observed.get("vmstat")):
        if isinstance(where, dict):
            for name in names:
                value = _number(where.get(name))
                if value is not None:
                    return value
    return None


class RegistryCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from self._hosts()
        yield from self._backends()
        yield self._health()
        yield self._jobs()

    def _hosts(self) -> Iterator[Metric]:
        online = GaugeMetricFamily(
            "swapadmin_host_online",
            "1 when the host's worker sent a recent heartbeat",
            labels=["host"],
        )
        swap_in = CounterMetricFamily(
            "swapadmin_host_swap_in_pages",
            "pages swapped in since the host booted (pswpin)",
            labels=["host"],
        )
        swap_out = CounterMetricFamily(
            "swapadmin_host_swap_out_pages",
            "pages swapped out since the host booted (pswpout)",
            labels=["host"],
        )
        for host in Host.objects.only("name", "last_heartbeat", "observed"):
            online.add_metric([host.name], 1.0 if host.online else 0.0)
            pswpin = host_counter(host.observed, "pswpin")
            if pswpin is not None:
                swap_in.add_metric([host.name], pswpin)
            pswpout = host_counter(host.observed, "pswpout")
            if pswpout is not None:
                swap_out.add_metric([host.name], pswpout)
        yield from (online, swap_in, swap_out)

    def _backends(self) -> Iterator[Metric]:
        labels = ["host", "backend", "kind"]
        size = GaugeMetricFamily(
            "swapadmin_backend_size_bytes", "size of the swap area", labels=labels
        )
        used = GaugeMetricFamily(
            "swapadmin_backend_used_bytes", "bytes of the area in use", labels=labels
        )
        priority = GaugeMetricFamily(
            "swapadmin_backend_priority",
            "swap priority (the kernel's while active, else the configured one)",
            labels=labels,
        )
        active = GaugeMetricFamily(
            "swapadmin_backend_active", "1 when the area is in /proc/swaps", labels=labels
        )
        rows = Backend.objects.select_related("host").only(
            "host__name", "name", "kind", "size_bytes", "info", "used_bytes",
            "priority", "active_priority", "observed_state",
        )  # fmt: skip
        for b in rows:
            key = [b.host.name, b.name, b.kind]
            area_size = _number((b.info or {}).get("size_bytes")) or _number(b.size_bytes)
            if area_size is not None:
                size.add_metric(key, area_size)
            used.add_metric(key, float(b.used_bytes))
            prio = b.active_priority if b.active_priority is not None else b.priority
            if prio is not None:
                priority.add_metric(key, float(prio))
            active.add_metric(key, 1.0 if b.observed_state == Backend.Observed.ACTIVE else 0.0)
        yield from (size, used, priority, active)

    def _health(self) -> Metric:
        # One series per status, 1 for the current one (the StateSet convention), so an
        # alert is `swapadmin_backend_health_status{status="fail"} == 1`.
        health = GaugeMetricFamily(
            "swapadmin_backend_health_status",
            "1 for the backend's current health status (unknown, ok, warn, fail), else 0",
            labels=["host", "backend", "status"],
        )
        rows = BackendHealth.objects.values_list("backend__host__name", "backend__name", "status")
        for host, backend, current in rows:
            for status in HealthStatus.values:
                health.add_metric([host, backend, status], 1.0 if status == current else 0.0)
        return health

    def _jobs(self) -> Metric:
        jobs = GaugeMetricFamily("swapadmin_jobs", "jobs by state", labels=["state"])
        counts = dict(Job.objects.values_list("state").annotate(n=Count("id")).order_by())
        for state in Job.State.values:
            jobs.add_metric([state], float(counts.get(state, 0)))
        return jobs


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(RegistryCollector())


def _allowed_address(addr: str | None) -> bool:
    if addr is None:
        return False
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    for entry in settings.SWAPADMIN_METRICS_ALLOWED_IPS:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _user(request: HttpRequest) -> Any:
    """The token's user, else the session's; None when neither authenticates."""
    try:
        found = TokenAuthentication().authenticate(request)  # type: ignore[arg-type]
    except AuthenticationFailed:
        return None
    if found is not None:
        return found[0]
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def metrics_view(request: HttpRequest) -> HttpResponse:
    # The client as a trusted proxy names it: a forged X-Forwarded-For opens nothing.
    if not _allowed_address(client_ip(request.META)):
        user = _user(request)
        if user is None:
            response = HttpResponse("authentication needed: send an API token\n", status=401)
            response["WWW-Authenticate"] = "Token"
            return response
        if not roles.can(user, "view"):
            return HttpResponse("reading metrics needs the viewer role\n", status=403)
    # Prometheus says in Accept which format it parses (the classic text one, or OpenMetrics).
    encoder, content_type = choose_encoder(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(encoder(REGISTRY), content_type=content_type)
