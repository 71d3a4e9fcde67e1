"""A `swapon` done by hand, outside swapadmin, shows on the open overview within 2 s."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from backends import kernel
from swapadmin.web.templatetags.swapadmin_ui import iec
from tests.fixtures.host import needs_root
from tests.fixtures.workers import WorkerProcess

from .conftest import log_in, mark_no_reload, screenshot, still_same_document

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.root, needs_root]

BOUND_SECONDS = 2.0


@pytest.mark.django_db(transaction=True)
def test_a_swapon_by_hand_shows_on_the_overview_within_the_bound(
    live_server: Any, worker: WorkerProcess, alice: User, browser_page: Page
) -> None:
    page = browser_page
    path = worker.swap_root / "byhand"
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", "count=64", "status=none"],
                   check=True)  # fmt: skip
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(path)], check=True, capture_output=True)

    log_in(page, live_server.url, "alice")
    row = page.locator(f'tr[data-host="{worker.name}"]')
    expect(row).to_be_visible()
    unmanaged_before = len(kernel.swap_areas())
    page.wait_for_timeout(1500)  # the sampler's first readings are in
    mark_no_reload(page)
    try:
        subprocess.run(["swapon", str(path)], check=True, capture_output=True)
        started = time.monotonic()
        mem = kernel.meminfo()
        total = iec(mem.swap_total)
        # The host row shows the new swap total and one more area swapadmin does not manage.
        expect(row.locator(".usage-text")).to_contain_text(f"/ {total}", timeout=10_000)
        expect(row.locator(f'[data-unmanaged-count="{unmanaged_before + 1}"]')).to_be_visible(
            timeout=10_000
        )
        elapsed = time.monotonic() - started
        screenshot(page, "overview-hand-swapon")
        assert still_same_document(page)
        assert elapsed <= BOUND_SECONDS, f"shown after {elapsed:.2f} s"

        print(f"hand swapon shown after {elapsed:.2f} s")

        # The host page lists it as not managed, with the adopt button; a swapoff by hand
        # takes it off the page again, also without a reload.
        page.goto(f"{live_server.url}/hosts/{worker.host.uuid}/")
        area = page.locator(f'tr[data-unmanaged="{path}"]')
        expect(area).to_be_visible()
        expect(page.locator("#adopt")).to_be_visible()
        mark_no_reload(page)
        subprocess.run(["swapoff", str(path)], check=True, capture_output=True)
        expect(area).to_have_count(0, timeout=BOUND_SECONDS * 1000)
        assert still_same_document(page)
    finally:
        subprocess.run(["swapoff", str(path)], check=False, capture_output=True)
