"""In a real browser, against a live server and a real worker on this machine: an admin
logs in, creates a swap file, scans it, activates it, deactivates it and destroys it, and
every change shows on the page without a reload."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Locator, Page, expect

from swapadmin.core.models import Backend, Job
from swapadmin.web.templatetags.swapadmin_ui import iec
from tests.faults.pause import JobGate, hold_scan_between_chunks
from tests.fixtures.host import needs_root
from tests.fixtures.workers import WorkerProcess, wait_for_job

from .conftest import log_in, mark_no_reload, screenshot, still_same_document

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.root, needs_root]

# Small enough that one run of the scan (pageio.SCAN_RUN_PAGES pages, written or read once)
# is more than 1 % of it: the first run's report moves the bar.
SIZE_MIB = 8


def count_redraws(page: Page) -> None:
    """From now on, ``window.__liveRedraws`` counts the times a poll replaced ``#live``."""
    page.evaluate(
        """() => {
            window.__liveRedraws = 0;
            new MutationObserver((changes) => {
                for (const change of changes)
                    for (const node of change.addedNodes)
                        if (node.id === "live") window.__liveRedraws += 1;
            }).observe(document.body, {childList: true, subtree: true});
        }"""
    )


def placed(page: Page, link: Locator) -> dict[str, Any]:
    """Where the host page draws its totals and ``link``, the link's top counted from the
    Backends heading (below the alerts). The totals' height is left out: their readings are
    live (a heartbeat late on a loaded machine says "worker down" on two lines)."""
    box = link.bounding_box()
    heading = page.locator("#live h2", has_text="Backends").bounding_box()
    totals = page.locator("#live .totals").bounding_box()
    assert box is not None and heading is not None and totals is not None
    return {
        "totals": {k: totals[k] for k in ("x", "y", "width")},
        "link": {**box, "y": box["y"] - heading["y"]},
    }


@pytest.mark.django_db(transaction=True)
def test_a_file_backend_from_creation_to_destruction(
    live_server: Any, worker: WorkerProcess, alice: User, browser_page: Page
) -> None:
    page, base, host = browser_page, live_server.url, worker.host
    path = worker.swap_root / "web1"

    log_in(page, base, "alice")
    expect(page.locator(f'tr[data-host="{host.name}"]')).to_be_visible()
    screenshot(page, "overview")

    # A form built from the file plugin's parameters, a summary, then the real thing.
    page.goto(f"{base}/backends/new/?host={host.uuid}&kind=file")
    page.get_by_label("Name", exact=True).fill("web1")
    page.get_by_label("Size (MiB)").fill(str(SIZE_MIB))
    page.get_by_label("Path", exact=True).fill("/etc/web1")
    page.get_by_role("button", name="Review").click()
    expect(page.locator("#id_param_path_error")).to_contain_text("swap root")
    screenshot(page, "backend-new-error")
    page.get_by_label("Path", exact=True).fill(str(path))
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_role("heading", name="What will happen")).to_be_visible()
    screenshot(page, "backend-new-review")
    page.get_by_role("button", name="Create web1").click()
    page.wait_for_url(re.compile(r"/backends/[0-9a-f-]{36}/$"))
    backend = Backend.objects.get(host=host, name="web1")
    state = page.locator("#live [data-state]").first
    expect(state).to_have_attribute("data-state", "ready", timeout=60_000)
    assert path.is_file()

    # A scan, stopped at its job's writes between two runs of pages (tests/faults/pause.py):
    # the bar shows what the job reported there, and moves when the scan is let on.
    mark_no_reload(page)
    with JobGate(lambda job: job.kind == Job.Kind.SCAN and job.backend_id == backend.pk) as gate:
        page.locator(f"#scan-{backend.uuid}").click()
        held = hold_scan_between_chunks(gate)
        expect(page.locator("#flash")).to_contain_text("scan web1: queued")
        live = page.locator(f'#live .totals [data-job="{held.uuid}"]')
        expect(live).to_have_attribute("data-job-state", "running")
        expect(live.locator("progress")).to_have_attribute("value", str(held.progress))
        screenshot(page, "backend")
        # The first run's report goes in; the scan stops again at its next write.
        gate.let_through()
        moved = gate.hold_at("", lambda job: job.progress > held.progress)
        assert moved.progress_message.startswith("scanning:"), moved.progress_message
        expect(live.locator("progress")).to_have_attribute("value", str(moved.progress))
        assert held.progress < moved.progress < 100
        print(
            f"scan held at {held.progress} %, then at {moved.progress} % ({moved.progress_message})"
        )
    scan = wait_for_job(held, worker=worker)
    assert scan.state == "succeeded", scan.log
    done = page.locator(f'tr[data-job="{scan.uuid}"]')
    expect(done.locator(".jstate")).to_have_text("succeeded")
    expect(done.locator("progress")).to_have_attribute("value", "100")
    assert still_same_document(page)

    # Activate from the host page, with the keyboard: the row turns active, its use shows.
    page.goto(f"{base}/hosts/{host.uuid}/")
    mark_no_reload(page)
    row = page.locator('tr[data-backend="web1"]')
    expect(row.locator("[data-state]")).to_have_attribute("data-state", "ready")
    expect(row.locator(".usage")).to_have_count(0)
    page.locator(f"#activate-{backend.uuid}").focus()
    page.keyboard.press("Enter")
    t0 = time.monotonic()
    expect(row.locator("[data-state]")).to_have_attribute("data-state", "active", timeout=30_000)
    expect(row.locator(".usage-text")).to_contain_text(f"/ {iec(SIZE_MIB << 20)}")
    assert path.as_posix() in Path("/proc/swaps").read_text()
    print(f"activate shown after {time.monotonic() - t0:.1f} s")
    # Redraws keep the focus where it was and move nothing: two of them, counted as they
    # replace the live region. Only the host's alerts may come or go between the totals and
    # the Backends heading: they follow its real readings, which other tests on this machine
    # may change meanwhile.
    link = page.locator(f"#link-{backend.uuid}")
    link.focus()
    before = placed(page, link)
    count_redraws(page)
    page.wait_for_function("window.__liveRedraws >= 2")
    assert page.evaluate("document.activeElement.id") == f"link-{backend.uuid}"
    assert placed(page, link) == before
    screenshot(page, "host")
    assert still_same_document(page)

    # Deactivate: back to ready, out of /proc/swaps.
    page.locator(f"#deactivate-{backend.uuid}").click()
    expect(row.locator("[data-state]")).to_have_attribute("data-state", "ready", timeout=30_000)
    assert path.as_posix() not in Path("/proc/swaps").read_text()
    assert still_same_document(page)

    # Destroy: a page that says what is lost, then the row and the file are gone.
    page.locator(f"#destroy-{backend.uuid}").click()
    expect(page.locator("ul.lost")).to_contain_text(f"The swap file {path}")
    screenshot(page, "confirm-destroy")
    page.get_by_role("button", name="Destroy web1").click()
    page.wait_for_url(f"{base}/hosts/{host.uuid}/")
    expect(page.locator('tr[data-backend="web1"]')).to_have_count(0, timeout=30_000)
    assert not path.exists()

    # The jobs, one job's log, and the audit trail of all this.
    page.goto(f"{base}/jobs/")
    expect(page.locator('tr[data-kind="destroy"]')).to_be_visible()
    screenshot(page, "jobs")
    page.goto(f"{base}/jobs/{scan.uuid}/")
    expect(page.locator("pre.log")).to_contain_text("scan done")
    screenshot(page, "job")
    page.goto(f"{base}/audit/")
    expect(page.locator('tr[data-action="destroy"]')).to_be_visible()
    screenshot(page, "audit")

    # Phone width: the pages reflow rather than overflow.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/")
    screenshot(page, "overview-phone")
    page.goto(f"{base}/hosts/{host.uuid}/")
    screenshot(page, "host-phone")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
