"""/metrics exports each online host's memory, swap, swapping, PSI and zram as its worker
last read them, under node_exporter's names with the swapadmin_host_ prefix; an offline
host is flagged (swapadmin_host_online 0) and its old readings are left out; a scrape costs
the same queries for 2 hosts as for 60."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from swapadmin.core.models import Host, Sample
from swapadmin.core.sampler import Reading, take_sample
from tests.fixtures.host import needs_root
from tests.fixtures.sampled import STORED, Sampled, sampled_host  # noqa: F401

Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: APIClient) -> Scrape:
    r = client.get("/metrics")
    assert r.status_code == 200, r.content
    out = {}
    for family in text_string_to_metric_families(r.content.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def of(scraped: Scrape, name: str, **labels: str) -> float:
    return scraped[(name, tuple(sorted(labels.items())))]


def names_for(scraped: Scrape, host: str) -> set[str]:
    return {name for name, labels in scraped if ("host", host) in labels}


def proc_meminfo(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(field)


@needs_root
def test_a_hosts_reading_is_exported_under_node_exporters_names(
    sampled_host: Sampled,  # noqa: F811
    victor: User,
    as_user: Callable[..., APIClient],
) -> None:
    scraped = scrape(as_user(victor))
    host, sample, observed = "testhost", sampled_host.sample, sampled_host.observed

    # The memory figures are the latest Sample's, which the worker read from /proc/meminfo.
    assert of(scraped, "swapadmin_host_memory_total_bytes", host=host) == sample.mem_total
    assert sample.mem_total == proc_meminfo("MemTotal")  # does not change while we run
    assert of(scraped, "swapadmin_host_memory_available_bytes", host=host) == sample.mem_available
    assert 0 < sample.mem_available <= sample.mem_total
    assert of(scraped, "swapadmin_host_swap_total_bytes", host=host) == sample.swap_total
    assert of(scraped, "swapadmin_host_swap_free_bytes", host=host) == sample.swap_free
    assert of(scraped, "swapadmin_host_swap_cached_bytes", host=host) == sample.swap_cached
    # The zram area was on when sampled: SwapTotal counted it (24 MiB less its header page).
    assert sample.swap_total >= (24 << 20) - 4096

    # Counters, as node_vmstat_pswpin/out: the kernel's totals since boot, never a rate.
    vmstat = dict(line.split() for line in Path("/proc/vmstat").read_text().splitlines())
    swapped_in = of(scraped, "swapadmin_host_swap_in_pages_total", host=host)
    assert swapped_in == observed["vmstat"]["pswpin"] <= int(vmstat["pswpin"])
    swapped_out = of(scraped, "swapadmin_host_swap_out_pages_total", host=host)
    assert swapped_out == observed["vmstat"]["pswpout"] <= int(vmstat["pswpout"])

    # PSI: node_exporter's totals in seconds, and the kernel's averages as ratios per window.
    psi = observed["psi"]
    assert psi is not None, "this kernel has PSI (/proc/pressure/memory)"
    waiting = of(scraped, "swapadmin_host_pressure_memory_waiting_seconds_total", host=host)
    assert waiting == pytest.approx(psi["some_total"] / 1e6)
    stalled = of(scraped, "swapadmin_host_pressure_memory_stalled_seconds_total", host=host)
    assert stalled == pytest.approx(psi["full_total"] / 1e6)
    now_some = int(Path("/proc/pressure/memory").read_text().split("total=")[1].split()[0])
    assert waiting <= now_some / 1e6  # a counter: the live one is at least as far
    for window in ("10", "60", "300"):
        for line in ("some", "full"):
            ratio = of(
                scraped,
                f"swapadmin_host_pressure_memory_{line}_ratio",
                host=host,
                window=f"{window}s",
            )
            assert ratio == pytest.approx(psi[f"{line}_avg{window}"] / 100)
            assert 0 <= ratio <= 1

    # zram, per device: what mm_stat said, and what the test stored in it.
    device = sampled_host.device
    stat = observed["zram"][f"/dev/{device}"]
    original = of(scraped, "swapadmin_host_zram_original_bytes", host=host, device=device)
    compressed = of(scraped, "swapadmin_host_zram_compressed_bytes", host=host, device=device)
    used = of(scraped, "swapadmin_host_zram_memory_used_bytes", host=host, device=device)
    assert (original, compressed, used) == (
        stat["orig_data_size"], stat["compr_data_size"], stat["mem_used_total"],
    )  # fmt: skip
    assert original >= STORED  # the 2 MiB of text, and the header page
    assert 0 < compressed < original / 2  # text compresses
    assert used >= compressed

    assert of(scraped, "swapadmin_host_online", host=host) == 1
    assert of(scraped, "swapadmin_hosts_online") == 1
    assert of(scraped, "swapadmin_hosts") == 1


def test_the_latest_raw_sample_is_the_one_exported(
    host_row: Host, victor: User, as_user: Callable[..., APIClient]
) -> None:
    now = timezone.now()
    # An older reading, and a minute average: neither is the host's state now.
    for at, resolution in ((now - timedelta(seconds=30), "raw"), (now, "1m")):
        Sample.objects.create(
            host=host_row, at=at, resolution=resolution, mem_total=1, mem_available=1,
            swap_total=1, swap_free=1,
        )  # fmt: skip
    latest = take_sample(host_row, Reading())
    scraped = scrape(as_user(victor))
    assert of(scraped, "swapadmin_host_memory_total_bytes", host="testhost") == latest.mem_total
    assert of(scraped, "swapadmin_host_swap_free_bytes", host="testhost") == latest.swap_free
    assert latest.mem_total > 1


def test_an_offline_host_is_flagged_and_its_old_readings_left_out(
    host_row: Host, victor: User, as_user: Callable[..., APIClient], settings: object
) -> None:
    take_sample(host_row, Reading())
    away = Host.objects.create(name="away", last_heartbeat=timezone.now())
    take_sample(away, Reading())
    # Its worker went quiet longer ago than SWAPADMIN_OFFLINE_AFTER_SECONDS (45 s).
    Host.objects.filter(pk=away.pk).update(last_heartbeat=timezone.now() - timedelta(minutes=5))
    Host.objects.create(name="never-heard")

    scraped = scrape(as_user(victor))
    assert of(scraped, "swapadmin_host_online", host="away") == 0
    assert of(scraped, "swapadmin_host_online", host="never-heard") == 0
    assert of(scraped, "swapadmin_host_online", host="testhost") == 1
    assert names_for(scraped, "away") == {"swapadmin_host_online"}
    assert names_for(scraped, "never-heard") == {"swapadmin_host_online"}
    assert "swapadmin_host_swap_total_bytes" in names_for(scraped, "testhost")
    assert of(scraped, "swapadmin_hosts_online") == 1
    assert of(scraped, "swapadmin_hosts") == 3


def test_a_scrape_costs_the_same_queries_for_two_hosts_as_for_sixty(
    host_row: Host, victor: User, as_user: Callable[..., APIClient]
) -> None:
    take_sample(host_row, Reading())
    model = Sample.objects.filter(host=host_row).get()
    observed = Host.objects.get(pk=host_row.pk).observed
    observed["zram"] = {"/dev/zram7": {"orig_data_size": 8192, "compr_data_size": 100,
                                       "mem_used_total": 4096}}  # fmt: skip

    def add_hosts(names: list[str]) -> None:
        for name in names:
            h = Host.objects.create(name=name, last_heartbeat=timezone.now(), observed=observed)
            for ago in (20, 10, 0):  # history the scrape must not read
                model.pk, model.host, model.at = None, h, timezone.now() - timedelta(seconds=ago)
                model.save()

    client = as_user(victor)
    scrape(client)  # the token's first use writes its last-used time: not the scrape's cost

    def queries() -> tuple[int, Scrape]:
        with CaptureQueriesContext(connection) as seen:
            scraped = scrape(client)
        return len(seen), scraped

    add_hosts(["h1"])
    few, _ = queries()
    add_hosts([f"h{i}" for i in range(2, 61)])
    many, scraped = queries()
    assert many == few
    assert len(names_for(scraped, "h60")) >= 15  # each host fully exported
    assert of(scraped, "swapadmin_host_zram_original_bytes", host="h60", device="zram7") == 8192
    assert of(scraped, "swapadmin_hosts_online") == 61
