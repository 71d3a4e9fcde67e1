"""A host's snapshot and its backends' rows are written by its worker, another machine, and
jsonb keeps whatever JSON it sent: numbers no float holds (1e400 comes back as a 401-digit
int), a zram key that names no zram device, two spellings of one device, an info that is no
object. /metrics leaves those figures out and serves every other host's: one odd host never
turns the fleet's scrape into a 500, a duplicate series or a label of its worker's choosing.
Host and backend names with quotes, backslashes, newlines and non-ASCII letters come back
whole through both exposition formats Prometheus asks for."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text
from rest_framework.test import APIClient

from swapadmin.core.models import Backend, Host, Sample
from swapadmin.health.models import BackendHealth

#: A number PostgreSQL's jsonb stores and Python's float() refuses.
HUGE = 10**400
OPENMETRICS = "application/openmetrics-text; version=1.0.0"

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def reading(pswpin: Any = 5, zram: Any = None, psi: Any = 0.5) -> dict[str, Any]:
    return {
        "vmstat": {"pswpin": pswpin, "pswpout": 7},
        "psi": {"some_avg10": psi, "some_total": 1_000_000},
        "zram": zram if zram is not None else {"/dev/zram0": {"orig_data_size": 4096}},
    }


def online(name: str, observed: Any) -> Host:
    return Host.objects.create(name=name, observed=observed, last_heartbeat=timezone.now())


def backend(host: Host, name: str, info: Any) -> Backend:
    made = Backend.objects.create(
        host=host, kind="file", name=name, params={}, size_bytes=8192, info=info
    )
    BackendHealth.objects.create(backend=made)
    return made


def scrape(accept: str = "") -> Series:
    client = APIClient(REMOTE_ADDR="127.0.0.1")
    r = client.get("/metrics", HTTP_ACCEPT=accept)
    assert r.status_code == 200, r.content[-2000:]
    parse = parse_openmetrics if accept else parse_text
    out: Series = {}
    for family in parse(r.content.decode()):
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, f"the series {key} twice in one scrape"
            out[key] = s.value
    return out


def of_host(series: Series, host: str) -> dict[str, float]:
    return {
        name + "".join(f",{k}={v}" for k, v in labels if k != "host"): value
        for (name, labels), value in series.items()
        if ("host", host) in labels
    }


@pytest.fixture
def local_scraper(settings: Any) -> None:
    settings.SWAPADMIN_METRICS_ALLOWED_IPS = ["127.0.0.1/32"]


@pytest.mark.parametrize("accept", ["", OPENMETRICS])
def test_one_hosts_odd_snapshot_leaves_out_its_figures_not_the_fleets(
    db: None, local_scraper: None, accept: str
) -> None:
    good = online("good", reading())
    backend(good, "g0", {"size_bytes": 4096})
    odd = online(
        "odd",
        reading(
            pswpin=HUGE,
            psi=HUGE,
            zram={
                "/dev/zram0": {"orig_data_size": HUGE, "compr_data_size": 10},
                "zram0": {"orig_data_size": 99},  # the same device, spelled again
                "/dev/zram1": {"orig_data_size": 20},
                '/dev/zram<b>"x': {"orig_data_size": 30},
                "/tmp/not-a-zram": {"orig_data_size": 40},
                "": {"orig_data_size": 50},
            },
        ),
    )
    backend(odd, "o0", ["not", "an", "object"])
    backend(odd, "o1", {"size_bytes": HUGE})

    series = scrape(accept)

    got = of_host(series, "good")
    assert got["swapadmin_host_swap_in_pages_total"] == 5
    assert got["swapadmin_host_pressure_memory_some_ratio,window=10s"] == 0.005
    assert got["swapadmin_host_zram_original_bytes,device=zram0"] == 4096
    assert (
        series[
            (
                "swapadmin_backend_size_bytes",
                (("backend", "g0"), ("host", "good"), ("kind", "file")),
            )
        ]
        == 4096
    )

    odd_series = of_host(series, "odd")
    assert "swapadmin_host_swap_in_pages_total" not in odd_series
    assert "swapadmin_host_swap_out_pages_total" in odd_series
    assert "swapadmin_host_pressure_memory_some_ratio,window=10s" not in odd_series
    devices = {
        dict(labels)["device"]
        for (name, labels), _ in series.items()
        if name.startswith("swapadmin_host_zram_") and ("host", "odd") in labels
    }
    assert devices == {"zram0", "zram1"}
    # /dev/zram0's original size is no number: zram0's figures are those of /dev/zram0.
    assert "swapadmin_host_zram_original_bytes,device=zram0" not in odd_series
    assert odd_series["swapadmin_host_zram_compressed_bytes,device=zram0"] == 10
    # A backend whose info is no object is sized by its row; one whose info is no number too.
    for name in ("o0", "o1"):
        key = (("backend", name), ("host", "odd"), ("kind", "file"))
        assert series[("swapadmin_backend_size_bytes", key)] == 8192


def test_a_worker_listing_thousands_of_zram_devices_adds_a_bounded_number_of_series(
    db: None, local_scraper: None
) -> None:
    from swapadmin.api.metrics import MAX_ZRAM_DEVICES

    many = {f"/dev/zram{i}": {"orig_data_size": i} for i in range(3000)}
    online("many", reading(zram=many))
    devices = [
        dict(labels)["device"]
        for (name, labels), _ in scrape().items()
        if name == "swapadmin_host_zram_original_bytes"
    ]
    assert len(devices) == MAX_ZRAM_DEVICES
    assert sorted(devices, key=lambda d: int(d[4:])) == [
        f"zram{i}" for i in range(MAX_ZRAM_DEVICES)
    ]


NAMES = ['quote"d', "back\\slash", "new\nline", "ünïcödé-€", 'all\\"\n}{,=', "\\n"]


@pytest.mark.parametrize("accept", ["", OPENMETRICS])
def test_names_come_back_whole_through_either_format(
    db: None, local_scraper: None, accept: str
) -> None:
    for name in NAMES:
        backend(online(name, reading()), name, {})
    series = scrape(accept)
    hosts = {
        dict(labels)["host"] for (n, labels), _ in series.items() if n == "swapadmin_host_online"
    }
    assert hosts == set(NAMES)
    backends = {
        (dict(labels)["host"], dict(labels)["backend"])
        for (n, labels), _ in series.items()
        if n == "swapadmin_backend_active"
    }
    assert backends == {(n, n) for n in NAMES}


def test_a_scrape_costs_the_same_queries_for_any_number_of_hosts_and_backends(
    db: None, local_scraper: None
) -> None:
    def add(start: int, count: int) -> None:
        for i in range(start, start + count):
            host = online(f"h{i}", reading())
            Sample.objects.create(host=host, at=timezone.now())
            for j in range(3):
                backend(host, f"b{j}", {"size_bytes": 4096})

    add(0, 2)
    with CaptureQueriesContext(connection) as few:
        scrape()
    add(2, 40)
    with CaptureQueriesContext(connection) as many:
        series = scrape()
    assert sum(1 for n, _ in series if n == "swapadmin_backend_health_status") == 42 * 3 * 4
    assert len(many) == len(few)
