"""/metrics: the registry's state in the Prometheus text format.

A custom collector reads the database at scrape time: the web process never reads /proc of
its own machine (a host's numbers are what its worker last stored). Readable with an API
token (any role) or from the addresses in SWAPADMIN_METRICS_ALLOWED_IPS (an address or a
network per entry), so a Prometheus on the same machine or network needs no secret.

Per host (label ``host``): workers online, memory and swap, swap-in/out counters, memory PSI
and zram per device, named as node_exporter names the same figures, with a
``swapadmin_host_`` prefix, so dashboards and alerts written for node_exporter translate
(docs/grafana-swapadmin.json uses them). Then the backends' gauges, health and jobs.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import BooleanField, Case, Count, Value, When
from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from rest_framework.exceptions import AuthenticationFailed

from swapadmin.accounts.auth import TokenAuthentication
from swapadmin.core import roles
from swapadmin.core.clientip import client_ip
from swapadmin.core.models import Backend, Host, Job, db_ago
from swapadmin.core.readings import finite
from swapadmin.health.models import BackendHealth
from swapadmin.health.models import Status as HealthStatus

#: Snapshot meminfo key, metric name (swapadmin_host_<name>_bytes), meminfo field, help. Named as
#: node_exporter names them, without its ``memory_`` before Swap: node_memory_SwapTotal_bytes
#: is swapadmin_host_swap_total_bytes, node_memory_MemAvailable_bytes is
#: swapadmin_host_memory_available_bytes; the same bytes.
MEMINFO = (
    ("mem_total", "memory_total", "MemTotal", "memory the kernel manages"),
    ("mem_available", "memory_available", "MemAvailable", "memory available to programs"),
    ("swap_total", "swap_total", "SwapTotal", "swap space of the active areas"),
    ("swap_free", "swap_free", "SwapFree", "swap space not in use"),
    ("swap_cached", "swap_cached", "SwapCached", "swapped pages also in memory"),
)

#: mm_stat column, metric name (swapadmin_host_zram_<name>_bytes), help.
ZRAM = (
    ("orig_data_size", "original", "data stored in the device, uncompressed"),
    ("compr_data_size", "compressed", "data stored in the device, compressed"),
    ("mem_used_total", "memory_used", "memory the device takes, overhead included"),
)

#: A zram device's name as the kernel gives it (zram0, zram12). Host.observed is written by the
#: host's worker, another machine: a key of any other shape (markup, a path that names no zram
#: device, a second spelling of one already read) would become a series of its own.
ZRAM_DEVICE = re.compile(r"zram\d{1,6}", re.ASCII)
#: zram devices exported per host at most: a label value each, so a worker listing thousands
#: would add thousands of series to every scrape. The sampler reads only those in use as swap.
MAX_ZRAM_DEVICES = 64

#: (host name, its worker's meminfo, vmstat, PSI and zram snapshot), as Host.observed holds them.
Snapshot = tuple[str, Any, Any, Any, Any]


def _online_now() -> Case:
    """Online as Host.objects.online() judges it, in the database's clock, per row."""
    recent = db_ago(settings.SWAPADMIN_OFFLINE_AFTER_SECONDS)
    return Case(
        When(last_heartbeat__gt=recent, then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


def _device_number(item: tuple[str, Any]) -> int:
    return int(item[0].removeprefix("zram"))


def host_counter(observed: Any, *names: str) -> float | None:
    """A cumulative counter from the worker's snapshot, wherever the sampler keeps it
    (top level or under ``vmstat``)."""
    if not isinstance(observed, dict):
        return None
    for where in (observed, observed.get("vmstat")):
        if isinstance(where, dict):
            for name in names:
                value = finite(where.get(name))
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
        # One query for every host family, however many hosts. Every figure comes from
        # Host.observed, the latest reading the sampler wrote (with its Sample, in one
        # transaction): one reading for all families of a host. Not "the Sample with the
        # latest at": ``at`` is the host's clock, and a sample from before NTP set it back
        # stays later than every new one, so its figures would be exported as the host's
        # state now until the clock catches up (never deleted by retention meanwhile).
        # Only the keys the families need are read, not the areas and top swap users.
        rows = Host.objects.annotate(is_online=_online_now()).values_list(
            "name", "is_online",
            "observed__meminfo", "observed__vmstat", "observed__psi", "observed__zram",
        )  # fmt: skip
        online = GaugeMetricFamily(
            "swapadmin_host_online",
            "1 when the host's worker sent a recent heartbeat, else 0",
            labels=["host"],
        )
        snapshots: list[Snapshot] = []
        count = 0
        for name, is_online, meminfo, vmstat, psi, zram in rows:
            count += 1
            online.add_metric([name], 1.0 if is_online else 0.0)
            # An offline host's readings are left out, not sent with their old values:
            # Prometheus stamps every value with the scrape's time, so a reading from an
            # hour ago would show as the host's state now, for as long as it stays away.
            # Left out, its series end (Prometheus marks them stale) and
            # swapadmin_host_online{host} == 0 says why.
            if is_online:
                snapshots.append((name, meminfo, vmstat, psi, zram))
        yield online
        yield GaugeMetricFamily(
            "swapadmin_hosts_online",
            "hosts whose worker sent a recent heartbeat",
            value=float(len(snapshots)),
        )
        yield GaugeMetricFamily("swapadmin_hosts", "hosts registered", value=float(count))
        yield from self._memory(snapshots)
        yield from self._swapping(snapshots)
        yield from self._pressure(snapshots)
        yield from self._zram(snapshots)

    def _memory(self, snapshots: list[Snapshot]) -> Iterator[Metric]:
        """node_exporter's meminfo figures, from each online host's latest reading."""
        families = {
            column: GaugeMetricFamily(
                f"swapadmin_host_{metric}_bytes", f"{help} ({field} of /proc/meminfo)",
                labels=["host"],
            )
            for column, metric, field, help in MEMINFO
        }  # fmt: skip
        for name, meminfo, _, _, _ in snapshots:
            if not isinstance(meminfo, dict):
                continue
            for key, family in families.items():
                value = finite(meminfo.get(key))
                if value is not None:
                    family.add_metric([name], value)
        yield from families.values()

    def _swapping(self, snapshots: list[Snapshot]) -> Iterator[Metric]:
        # Counters, as node_exporter's node_vmstat_pswpin/pswpout: Prometheus's rate() makes
        # them per second over whatever window a panel asks, which a stored rate cannot.
        swap_in = CounterMetricFamily(
            "swapadmin_host_swap_in_pages",
            "pages swapped in since the host booted (pswpin of /proc/vmstat)",
            labels=["host"],
        )
        swap_out = CounterMetricFamily(
            "swapadmin_host_swap_out_pages",
            "pages swapped out since the host booted (pswpout of /proc/vmstat)",
            labels=["host"],
        )
        for name, _, vmstat, _, _ in snapshots:
            pswpin = host_counter(vmstat, "pswpin")
            if pswpin is not None:
                swap_in.add_metric([name], pswpin)
            pswpout = host_counter(vmstat, "pswpout")
            if pswpout is not None:
                swap_out.add_metric([name], pswpout)
        yield from (swap_in, swap_out)

    def _pressure(self, snapshots: list[Snapshot]) -> Iterator[Metric]:
        # node_exporter's names for the totals; the kernel's averages as ratios (0 to 1, the
        # Prometheus unit), one series per window, so a panel picks 10s, 60s or 300s.
        waiting = CounterMetricFamily(
            "swapadmin_host_pressure_memory_waiting_seconds",
            "time some task stalled on memory (the some total of /proc/pressure/memory)",
            labels=["host"],
        )
        stalled = CounterMetricFamily(
            "swapadmin_host_pressure_memory_stalled_seconds",
            "time all tasks stalled on memory (the full total of /proc/pressure/memory)",
            labels=["host"],
        )
        some = GaugeMetricFamily(
            "swapadmin_host_pressure_memory_some_ratio",
            "share of the window some task stalled on memory (PSI some avg10/60/300)",
            labels=["host", "window"],
        )
        full = GaugeMetricFamily(
            "swapadmin_host_pressure_memory_full_ratio",
            "share of the window all tasks stalled on memory (PSI full avg10/60/300)",
            labels=["host", "window"],
        )
        for name, _, _, psi, _ in snapshots:
            if not isinstance(psi, dict):
                continue  # a kernel without PSI (CONFIG_PSI off or psi=0)
            for family, total in ((waiting, "some_total"), (stalled, "full_total")):
                value = finite(psi.get(total))
                if value is not None:
                    family.add_metric([name], value / 1e6)  # microseconds
            for gauge, line in ((some, "some"), (full, "full")):
                for window in ("10", "60", "300"):
                    value = finite(psi.get(f"{line}_avg{window}"))
                    if value is not None:
                        gauge.add_metric([name, f"{window}s"], value / 100)
        yield from (waiting, stalled, some, full)

    def _zram(self, snapshots: list[Snapshot]) -> Iterator[Metric]:
        # No node_exporter collector reads zram: the names say what mm_stat's columns are.
        labels = ["host", "device"]
        families = {
            column: GaugeMetricFamily(f"swapadmin_host_zram_{metric}_bytes", help, labels=labels)
            for column, metric, help in ZRAM
        }
        for name, _, _, _, zram in snapshots:
            if not isinstance(zram, dict):
                continue
            devices: dict[str, dict[str, Any]] = {}
            for path, stat in sorted(zram.items()):
                device = path.rsplit("/", 1)[-1]
                if not isinstance(stat, dict) or not ZRAM_DEVICE.fullmatch(device):
                    continue
                # /dev/zram0 and zram0 are one device: one series, or Prometheus drops both.
                devices.setdefault(device, stat)
            for device, stat in sorted(devices.items(), key=_device_number)[:MAX_ZRAM_DEVICES]:
                for column, family in families.items():
                    value = finite(stat.get(column))
                    if value is not None:
                        family.add_metric([name, device], value)
        yield from families.values()

    def _backends(self) -> Iterator[Metric]:
        labels = ["host", "backend", "kind"]
        size = GaugeMetricFamily(
            "swapadmin_backend_size_bytes", "size of the swap area", labels=labels
        )
        used = GaugeMetricFamily(
            "swapadmin_backend_used_bytes",
            "bytes of the area in use (no sample while whether it is active cannot be told)",
            labels=labels,
        )
        priority = GaugeMetricFamily(
            "swapadmin_backend_priority",
            "swap priority (the kernel's while active, else the configured one)",
            labels=labels,
        )
        active = GaugeMetricFamily(
            "swapadmin_backend_active",
            "1 when the area is in /proc/swaps (no sample while that cannot be told)",
            labels=labels,
        )
        # The current observed state only, as 1 (an info-style series: one per backend, not
        # one per state, which a fleet's scrape would pay seven times over): "indeterminate"
        # has a series to alert on where the area's own figures are left out.
        observed = GaugeMetricFamily(
            "swapadmin_backend_observed_state",
            "1, labelled with the backend's observed state ("
            + ", ".join(Backend.Observed.values)
            + ")",
            labels=[*labels, "state"],
        )
        rows = Backend.objects.select_related("host").only(
            "host__name", "name", "kind", "size_bytes", "info", "used_bytes",
            "priority", "active_priority", "observed_state",
        )  # fmt: skip
        for b in rows:
            key = [b.host.name, b.name, b.kind]
            # Backend.info is what the host's worker last read: a dict, unless it wrote junk.
            info = b.info if isinstance(b.info, dict) else {}
            area_size = finite(info.get("size_bytes")) or finite(b.size_bytes)
            if area_size is not None:
                size.add_metric(key, area_size)
            untold = b.observed_state == Backend.Observed.INDETERMINATE
            observed.add_metric([*key, b.observed_state], 1.0)
            # The kernel's priority only while it is known to be the kernel's.
            prio = b.priority if untold or b.active_priority is None else b.active_priority
            if prio is not None:
                priority.add_metric(key, float(prio))
            if untold:
                # A "0" would say it is off and empty; the last figures seen are on its
                # page. No sample is Prometheus's way to say "not known".
                continue
            used.add_metric(key, float(b.used_bytes))
            active.add_metric(key, 1.0 if b.observed_state == Backend.Observed.ACTIVE else 0.0)
        yield from (size, used, priority, active, observed)

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
        found = TokenAuthentication().authenticate(request)
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
