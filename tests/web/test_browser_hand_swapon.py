"""A `swapon` done by hand, outside swapadmin, shows on the open overview, and a swapoff by
hand leaves the host page, without a reload. How fast is a figure, not a pass mark here (it
depends on the machine): `bench/bench_control_plane.py --tables 2` measures it (docs/
BENCHMARKS-control-plane.md); this test only prints what it saw."""

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

#: Far beyond the promised couple of seconds: a miss here is a broken page, not a slow one.
SHOWN_WITHIN_MS = 15_000


@pytest.mark.django_db(transaction=True)
def test_a_swapon_by_hand_shows_on_the_open_pages(
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
    # The sampler's readings of the host as it is before the swapon are on the page.
    unmanaged_before = len(kernel.swap_areas())
    expect(row.locator(".usage-text")).to_contain_text(f"/ {iec(kernel.meminfo().swap_total)}")
    expect(row.locator(f'[data-unmanaged-count="{unmanaged_before}"]')).to_have_count(
        1 if unmanaged_before else 0
    )
    mark_no_reload(page)
    try:
        subprocess.run(["swapon", str(path)], check=True, capture_output=True)
        started = time.monotonic()
        mem = kernel.meminfo()
        total = iec(mem.swap_total)
        # The host row shows the new swap total and one more area swapadmin does not manage.
        expect(row.locator(".usage-text")).to_contain_text(f"/ {total}", timeout=SHOWN_WITHIN_MS)
        expect(row.locator(f'[data-unmanaged-count="{unmanaged_before + 1}"]')).to_be_visible(
            timeout=SHOWN_WITHIN_MS
        )
        elapsed = time.monotonic() - started
        screenshot(page, "overview-hand-swapon")
        assert still_same_document(page)
        print(f"hand swapon shown after {elapsed:.2f} s")

        # The host page lists it as not managed, with the adopt button; a swapoff by hand
        # takes it off the page again, also without a reload.
        page.goto(f"{live_server.url}/hosts/{worker.host.uuid}/")
        area = page.locator(f'tr[data-unmanaged="{path}"]')
        expect(area).to_be_visible()
        expect(page.locator("#adopt")).to_be_visible()
        mark_no_reload(page)
        subprocess.run(["swapoff", str(path)], check=True, capture_output=True)
        expect(area).to_have_count(0, timeout=SHOWN_WITHIN_MS)
        assert still_same_document(page)
    finally:
        subprocess.run(["swapoff", str(path)], check=False, capture_output=True)
