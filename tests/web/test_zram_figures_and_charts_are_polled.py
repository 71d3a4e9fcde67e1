"""The live regions of the backend and host pages carry a zram backend's figures from the
latest sample (Host.observed, as the sampler writes it), and the charts are partials that
poll themselves, so they extend without a reload. The browser test
(test_browser_zram_figures_are_live) watches both follow a real device."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from backends import kernel
from swapadmin.core.models import Backend, Host, Sample

from .conftest import OBSERVED, htmx, make_samples

MiB = 1 << 20
#: An mm_stat as the kernel gives it: 48 MiB stored in 12 MiB, 1,000 zero-filled pages.
STAT = kernel.ZramStat(
    orig_data_size=48 * MiB,
    compr_data_size=12 * MiB,
    mem_used_total=13 * MiB,
    mem_limit=64 * MiB,
    mem_used_max=14 * MiB,
    same_pages=1000,
    pages_compacted=0,
    huge_pages=0,
)


def zram_backend(
    host: Host, device: str = "/dev/zram7", sampled: str = "", kind: str = "zram"
) -> Backend:
    """A zram backend on ``device``; the latest sample read ``sampled`` (its own device
    unless given). The key is the path in /proc/swaps, as core.sampler._compressed_memory has it."""
    stat = {**asdict(STAT), "compression_ratio": STAT.compression_ratio}
    host.observed = {**OBSERVED, "zram": {sampled or device: stat}}
    host.observed_at = timezone.now()
    host.save()
    return Backend.objects.create(
        host=host,
        kind=kind,
        name="z7",
        params={},
        state={"device": device},
        info={"kind": kind, "swap_path": device, "device": device},
        size_bytes=128 * MiB,
        observed_state=Backend.Observed.ACTIVE,
        used_bytes=48 * MiB,
        provisioned_at=timezone.now(),
    )


def figures(body: str, device: str) -> dict[str, str]:
    row = re.search(rf'<tr data-zram="{re.escape(device)}">(.*?)</tr>', body, re.S)
    assert row, f"no zram figures for {device}"
    cells = re.findall(r'data-figure="(\w+)"[^>]*>(.*?)</td>', row.group(1), re.S)
    return {name: re.sub(r"<[^>]+>", "", text).strip() for name, text in cells}


def test_the_backend_pages_live_region_has_the_latest_figures(
    as_user: Any, victor: User, host_row: Host
) -> None:
    backend = zram_backend(host_row)
    r = as_user(victor).get(reverse("backend", args=[backend.uuid]), headers=htmx("live"))
    body = r.content.decode()
    assert body.lstrip().startswith('<section id="live"')
    assert figures(body, "/dev/zram7") == {
        "orig": "48.0 MiB",
        "compr": "12.0 MiB",
        "used": "13.0 MiB of 64.0 MiB",
        "same": "1000 (3.9 MiB)",
        "ratio": "4.00",
    }


@pytest.mark.parametrize(
    ("kind", "device", "shown"),
    [
        ("tenant", "/dev/zram7", True),  # a third party's kind swapping on a zram device
        ("file", "/srv/swap/zram7", False),  # a file that is only named like one
        ("block", "/dev/vg0/zram7", False),  # a device named like one, elsewhere in /dev
    ],
)
def test_the_figures_follow_the_device_not_the_kind(
    as_user: Any, victor: User, host_row: Host, kind: str, device: str, shown: bool
) -> None:
    backend = zram_backend(host_row, device=device, sampled="/dev/zram7", kind=kind)
    r = as_user(victor).get(reverse("backend", args=[backend.uuid]), headers=htmx("live"))
    assert ('data-zram="/dev/zram7"' in r.content.decode()) == shown


def test_the_host_pages_live_region_has_them_per_zram_backend(
    as_user: Any, victor: User, host_row: Host
) -> None:
    backend = zram_backend(host_row)
    r = as_user(victor).get(reverse("host", args=[host_row.uuid]), headers=htmx("live"))
    body = r.content.decode()
    assert figures(body, "/dev/zram7")["ratio"] == "4.00"
    assert f'<a href="{reverse("backend", args=[backend.uuid])}">z7</a>' in body


def test_an_inactive_zram_backend_has_no_live_figures(
    as_user: Any, victor: User, host_row: Host
) -> None:
    # The sampler reads mm_stat only for areas in /proc/swaps: here another device (a
    # distribution's zram0, say), not this backend's.
    backend = zram_backend(host_row, device="/dev/zram8", sampled="/dev/zram7")
    Backend.objects.filter(pk=backend.pk).update(observed_state="ready")
    body = (
        as_user(victor)
        .get(reverse("backend", args=[backend.uuid]), headers=htmx("live"))
        .content.decode()
    )
    assert "data-zram=" not in body and "zram, now" not in body


def test_the_backend_chart_is_a_partial_that_polls_itself(
    as_user: Any, victor: User, host_row: Host, settings: Any
) -> None:
    settings.SWAPADMIN_SAMPLE_SECONDS = 5.0
    backend = zram_backend(host_row)
    make_samples(
        host_row, 20, timedelta(seconds=30), Sample.Resolution.RAW,
        backends={str(backend.uuid): 48 * MiB},
    )  # fmt: skip
    url = reverse("backend", args=[backend.uuid])
    r = as_user(victor).get(url + "?range=hour", headers=htmx("chart"))
    body = r.content.decode()
    assert body.lstrip().startswith('<section id="chart"')
    assert f'hx-get="{url}?range=hour" hx-trigger="every 5s"' in body
    assert "<polyline" in body and "Health history" not in body
    day = as_user(victor).get(url + "?range=day", headers=htmx("chart")).content.decode()
    assert 'hx-trigger="every 60s"' in day  # a day's point is a 6-minute bucket


def test_the_host_charts_poll_themselves_at_their_range(
    as_user: Any, victor: User, host_row: Host, settings: Any
) -> None:
    settings.SWAPADMIN_SAMPLE_SECONDS = 5.0
    url = reverse("host", args=[host_row.uuid])
    page = as_user(victor).get(url).content.decode()
    assert f'<section id="charts" aria-labelledby="charts-h" hx-get="{url}?range=hour" ' in page
    assert 'hx-trigger="every 5s"' in page
    week = as_user(victor).get(url + "?range=week", headers=htmx("charts")).content.decode()
    assert f'hx-get="{url}?range=week" hx-trigger="every 60s"' in week
