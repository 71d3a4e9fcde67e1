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
from playwright.sync_api import Page, expect

from swapadmin.core.models import Backend, Job
from tests.fixtures.host import needs_root
from tests.fixtures.workers import WorkerProcess, wait_for_job

from .conftest import log_in, mark_no_reload, screenshot, still_same_document

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.root, needs_root]

SIZE_MIB = 512


def progress_values(page: Page, job: Job, seconds: float) -> list[int]:
    """The values the job's progress bar shows, read every 100 ms until the job ends."""
    seen: list[int] = []
    bar = page.locator(f'[data-job="{job.uuid}"] progress')
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if Job.objects.get(pk=job.pk).finished:
            break
        value = bar.first.get_attribute("value", timeout=1000) if bar.count() else None
        if value is not None and (not seen or seen[-1] != int(value)):
            seen.append(int(value))
        time.sleep(0.1)
    return seen


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

    # A scan: its progress bar moves while the page stays the same document.
    mark_no_reload(page)
    page.locator(f"#scan-{backend.uuid}").click()
    expect(page.locator("#flash")).to_contain_text("scan web1: queued")
    scan = Job.objects.get(backend=backend, kind="scan")
    seen = progress_values(page, scan, 90)
    screenshot(page, "backend")
    scan = wait_for_job(scan, worker=worker)
    assert scan.state == "succeeded", scan.log
    moving = [v for v in seen if 0 < v < 100]
    assert len(set(moving)) >= 2, f"the progress bar did not move: {seen}"
    assert moving == sorted(moving)
    expect(page.locator(f'tr[data-job="{scan.uuid}"] .jstate')).to_have_text("succeeded")
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
    expect(row.locator(".usage-text")).to_contain_text(f"/ {SIZE_MIB} MiB")
    assert path.as_posix() in Path("/proc/swaps").read_text()
    print(f"activate shown after {time.monotonic() - t0:.1f} s")
    # Redraws keep the focus where it was and move nothing.
    link = page.locator(f"#link-{backend.uuid}")
    link.focus()
    box = link.bounding_box()
    page.wait_for_timeout(2500)
    assert page.evaluate("document.activeElement.id") == f"link-{backend.uuid}"
    assert link.bounding_box() == box
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
