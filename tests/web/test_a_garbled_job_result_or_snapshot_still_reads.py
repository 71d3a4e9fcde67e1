"""A job's result, a host's snapshot and its samples are written by the host's worker,
another machine, and jsonb keeps whatever JSON it sent. The job page, the overview, the host
page and the backend page read such a result or snapshot as far as it goes: a figure no
float holds (1e400 comes back from jsonb as a 401-digit int), "nan" as a string, a list or
an object where a number goes, markup where a name goes. Never a 500, never markup of the
worker's drawn as markup; the JSON keeps what was sent."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from swapadmin.core.models import Backend, Host, Job, Sample

from .conftest import OBSERVED, htmx
from .test_job_results_read_as_tables import finished, json_in_details, result_section

HUGE = 10**400
MARKUP = "<script>alert(1)</script><img src=x onerror=alert(2)>"
#: Markup a device name directly under /dev can hold (no "/"): only such a name is a zram
#: device's (web/snapshot.zram_of).
ZRAM_MARKUP = "<img src=x onerror=alert(2)>"


def no_markup(body: str) -> None:
    assert "<script>alert" not in body and "<img src=x" not in body


GARBLED: dict[str, tuple[str, dict[str, Any]]] = {
    "scan": (Job.Kind.SCAN, {"scan": {
        "pages": HUGE, "patterns": [4], "seconds": HUGE, "bytes_written": "nan",
        "bytes_read": MARKUP, "bad_pages": [7, True, -1, "9", None, {"p": 1}, HUGE, 12],
    }}),
    "benchmark": (Job.Kind.BENCHMARK, {"benchmark": {
        "engine": MARKUP, "queue_depth": {"q": 1}, "block_bytes": HUGE,
        "seq_write_iops": MARKUP, "seq_write_mb_s": HUGE, "seq_write_p50_us": "nan",
    }}),
    "burn-in": (Job.Kind.BURN_IN, {"burn_in": {
        "peak_used_bytes": HUGE, "cgroup_swap_peak_bytes": "nan", "seconds": HUGE,
        "cgroup": MARKUP, "cgroup_version": MARKUP, "oom_kills": "inf",
    }}),
    "check": (Job.Kind.CHECK, {
        "status": MARKUP, "repair_job": MARKUP,
        "findings": [{"check": MARKUP, "status": MARKUP, "message": MARKUP}, "junk", None],
        "host": {"status": "fail", "findings": {"not": "a list"}},
    }),
    "other": (Job.Kind.ACTIVATE, {MARKUP: MARKUP, "size_bytes": HUGE, "flag": True, "n": HUGE}),
}  # fmt: skip


@pytest.mark.parametrize("name", list(GARBLED))
def test_a_garbled_result_reads_as_far_as_it_goes(
    as_user: Any, victor: User, backend: Backend, name: str
) -> None:
    kind, result = GARBLED[name]
    job = finished(backend, kind, result)
    r = as_user(victor).get(reverse("job", args=[job.uuid]))
    assert r.status_code == 200
    body = r.content.decode()
    no_markup(body)
    section = result_section(body)
    assert json_in_details(section) == result  # what was sent, whole
    if name == "scan":
        # Only whole page numbers are pages; 1e400 is no page of any disk the kernel swaps to.
        assert '<p class="mono bad-pages">7, 12</p>' in section
    if name == "burn-in":
        assert "<dt>Swap charged to the hog at most</dt><dd>—</dd>" in section


def test_a_hosts_snapshot_no_float_holds_leaves_the_overview_and_its_page_standing(
    as_user: Any, victor: User, host_row: Host
) -> None:
    stat = {"orig_data_size": HUGE, "compr_data_size": 10, "same_pages": HUGE}
    host_row.observed = {
        **OBSERVED,
        "meminfo": {**OBSERVED["meminfo"], "swap_total": HUGE},
        "psi": {"some_avg10": HUGE},
        "rates": {"pswpin": HUGE},
        "zram": {f"/dev/zram{ZRAM_MARKUP}": stat, "/dev/zram3": stat},
    }
    host_row.save()
    for name, path in (("z3", "/dev/zram3"), ("zm", f"/dev/zram{ZRAM_MARKUP}")):
        Backend.objects.create(
            host=host_row, kind="zram", name=name, params={}, info={"swap_path": path},
            size_bytes=1 << 20, observed_state=Backend.Observed.ACTIVE,
        )  # fmt: skip
    client = as_user(victor)
    for url, headers in (
        (reverse("overview"), {}),
        (reverse("overview"), htmx("live")),
        (reverse("host", args=[host_row.uuid]), {}),
        (reverse("host", args=[host_row.uuid]), htmx("live")),
    ):
        r = client.get(url, headers=headers)
        assert r.status_code == 200, url
        no_markup(r.content.decode())
    body = r.content.decode()
    row = re.search(r'<tr data-zram="/dev/zram3">(.*?)</tr>', body, re.S)
    assert row
    assert 'data-zram="/dev/zram&lt;img src=x onerror=alert(2)&gt;"' in body
    assert 'data-bytes="10"' in row.group(1)


def test_a_backends_chart_leaves_out_samples_whose_figure_is_no_number(
    as_user: Any, victor: User, backend: Backend
) -> None:
    key, now = str(backend.uuid), timezone.now()
    for i, value in enumerate((HUGE, "junk", {"used_bytes": "x"}, 3 << 20)):
        Sample.objects.create(
            host=backend.host, at=now - timedelta(seconds=10 * (4 - i)), backends={key: value}
        )
    r = as_user(victor).get(reverse("backend", args=[backend.uuid]), headers=htmx("chart"))
    assert r.status_code == 200
    assert "latest used 3.0 MiB" in r.content.decode()
