"""A zram backend's figures (original and compressed size, memory used, same-filled pages,
ratio) are in the live region of its page and of its host's page, and follow the device as
the kernel swaps a memory hog's pages to it; the charts gain points as samples arrive.
All without a reload, in Chromium, against a real worker and a real zram device."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from backends import kernel
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import WorkerProcess, wait_for_job
from tests.health.conftest import CGROUP_ROOT, MemoryHog

from .conftest import log_in, mark_no_reload, screenshot, still_same_document

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.root, needs_root]

MiB = 1 << 20
#: A sample a second (the test worker's), a poll a second, a chart poll every sample period
#: of this process: far beyond those, a miss is a broken page, not a slow one.
SHOWN_WITHIN_MS = 30_000
#: The hog's pages beyond its cgroup's limit go to the highest-priority area: this one.
HOG, LIMIT = 96 * MiB, 48 * MiB
#: How much more the device must hold before the page is taken to follow it: well under
#: what the hog pushes out, well over what the host's own swapping adds meanwhile.
GROWTH = 16 * MiB

#: The points the chart's SVG draws: every vertex of its lines, and lone points (circles).
COUNT_POINTS = """(selector) => {
    const svg = document.querySelector(selector);
    if (!svg) return -1;
    let n = svg.querySelectorAll("circle").length;
    for (const line of svg.querySelectorAll("polyline")) n += line.points.numberOfItems;
    return n;
}"""


def shown_bytes(page: Page, selector: str) -> int:
    return int(page.locator(selector).get_attribute("data-bytes") or -1)


def wait_for_bytes_at_least(page: Page, selector: str, at_least: int) -> None:
    page.wait_for_function(
        "([sel, n]) => { const el = document.querySelector(sel);"
        " return el !== null && Number(el.dataset.bytes) >= n; }",
        arg=[selector, at_least],
        timeout=SHOWN_WITHIN_MS,
    )


@pytest.fixture
def start_hog() -> Any:
    """Starts a hog of HOG bytes in a memory cgroup limited to LIMIT (the health tests'
    MemoryHog); it is killed and its cgroup removed after the test, whatever happened."""
    if not CGROUP_ROOT.is_dir():
        pytest.skip("needs the cgroup v1 memory controller at /sys/fs/cgroup/memory")
    hogs: list[MemoryHog] = []

    def start() -> MemoryHog:
        hog = MemoryHog(CGROUP_ROOT / f"swapadmin-web-{uuid.uuid4().hex[:8]}", HOG, LIMIT, False)
        hogs.append(hog)
        return hog

    try:
        yield start
    finally:
        for hog in hogs:
            hog.stop()


@pytest.mark.django_db(transaction=True)
def test_zram_figures_and_the_chart_follow_the_device(
    zram_cleanup: None,
    live_server: Any,
    worker: WorkerProcess,
    alice: User,
    browser_page: Page,
    start_hog: Any,
) -> None:
    page, base, actor = browser_page, live_server.url, Actor(alice, Job.Via.API)
    made = services.create_backend(
        host=worker.host, kind="zram", name="zlive", size_bytes=128 * MiB, actor=actor,
        params={}, priority=32767,
    )  # fmt: skip
    made = wait_for_job(made, 60, worker=worker)
    assert made.state == Job.State.SUCCEEDED, f"{made.error}\n{made.log}"
    backend = Backend.objects.get(name="zlive")
    device = backend.state["device"]

    log_in(page, base, "alice")
    page.goto(f"{base}/backends/{backend.uuid}/")
    row = f'#live tr[data-zram="{device}"]'
    # Not swapped on: the sampler reads no mm_stat for it, and the page shows none.
    expect(page.locator("#live")).to_be_visible()
    expect(page.locator(row)).to_have_count(0)
    mark_no_reload(page)

    activated = wait_for_job(
        services.request_action(backend, Job.Kind.ACTIVATE, actor, {}), 60, worker=worker
    )
    assert activated.state == Job.State.SUCCEEDED, f"{activated.error}\n{activated.log}"
    expect(page.locator(row)).to_be_visible(timeout=SHOWN_WITHIN_MS)
    for figure in ("orig", "compr", "used", "same", "ratio"):
        expect(page.locator(f'{row} [data-figure="{figure}"]')).to_be_visible()
    before = shown_bytes(page, f'{row} [data-figure="orig"]')
    assert before >= 0
    points = page.evaluate(COUNT_POINTS, "#chart svg")
    assert points >= 0, "no chart on the backend page"

    start_hog()
    orig = f'{row} [data-figure="orig"]'
    wait_for_bytes_at_least(page, orig, before + GROWTH)
    # The device really holds what the page says it took (the hog sleeps: its pages stay).
    assert kernel.zram_mm_stat(device).orig_data_size >= before + GROWTH
    assert shown_bytes(page, f'{row} [data-figure="compr"]') > 0
    assert shown_bytes(page, f'{row} [data-figure="used"]') > 0
    ratio = float(page.locator(f'{row} [data-figure="ratio"]').inner_text())
    assert ratio > 1.0  # the hog's pages are mostly the same bytes: they compress

    # The chart gains a point as the samples come in, also without a reload.
    page.wait_for_function(
        f"() => ({COUNT_POINTS})('#chart svg') > {points}", timeout=SHOWN_WITHIN_MS * 2
    )
    screenshot(page, "backend-zram-live")
    assert still_same_document(page)

    # The host page has the same figures, per zram backend, and its charts extend too.
    page.goto(f"{base}/hosts/{worker.host.uuid}/")
    host_row = f'#live table.zram-now tr[data-zram="{device}"]'
    expect(page.locator(f"{host_row} a")).to_have_text("zlive")
    assert shown_bytes(page, f'{host_row} [data-figure="orig"]') >= before + GROWTH
    host_points = page.evaluate(COUNT_POINTS, "#charts svg")
    assert host_points > 0
    mark_no_reload(page)
    page.wait_for_function(
        f"() => ({COUNT_POINTS})('#charts svg') > {host_points}", timeout=SHOWN_WITHIN_MS * 2
    )
    screenshot(page, "host-zram-live")
    assert still_same_document(page)
