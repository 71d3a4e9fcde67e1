"""In a real browser: a viewer searches the overview's hosts and moves to another page; the
live region's poll keeps that search and that page (a host added meanwhile shows up where it
belongs, without a reload, and the poll never brings back the whole fleet's first page)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect

from swapadmin.core.models import Host

from .conftest import log_in, mark_no_reload, screenshot, still_same_document

pytestmark = [pytest.mark.browser]

#: A poll a second and a 0.5 s shared cache: far beyond that, a miss is a broken page.
SHOWN_WITHIN_MS = 10_000


def add_host(name: str) -> Host:
    return Host.objects.create(name=name, last_heartbeat=timezone.now())


def rows(page: Page) -> Any:
    return page.locator("#live tbody tr[data-host]")


@pytest.mark.django_db(transaction=True)
def test_search_and_page_survive_the_poll(
    live_server: Any, victor: User, browser_page: Page
) -> None:
    for i in range(120):
        add_host(f"node-{i:03d}")
    page, base = browser_page, live_server.url
    log_in(page, base, "victor")
    expect(rows(page)).to_have_count(50)

    page.get_by_label("Host name or label").fill("node-1")
    page.get_by_role("button", name="Find").click()
    page.wait_for_url(re.compile(r"/\?q=node-1(&|$)"))  # the form sends its empty filters too
    expect(rows(page)).to_have_count(20)  # node-100 to node-119
    mark_no_reload(page)
    add_host("node-1000")
    add_host("other-9")
    expect(page.locator('#live tr[data-host="node-1000"]')).to_be_visible(timeout=SHOWN_WITHIN_MS)
    expect(rows(page)).to_have_count(21)
    expect(page.locator('#live tr[data-host="other-9"]')).to_have_count(0)
    expect(page.locator('#live tr[data-host="node-000"]')).to_have_count(0)
    assert still_same_document(page)
    screenshot(page, "overview-searched")

    page.get_by_role("link", name="clear").click()
    page.wait_for_url(base + "/")
    page.locator("nav.pager").get_by_role("link", name="2", exact=True).click()
    page.wait_for_url("**/?page=2")
    expect(rows(page).first).to_have_attribute("data-host", "node-050")
    mark_no_reload(page)
    add_host("node-0505")  # sorts between node-050 and node-051: onto this page
    expect(rows(page).nth(1)).to_have_attribute("data-host", "node-0505", timeout=SHOWN_WITHIN_MS)
    expect(rows(page)).to_have_count(50)
    expect(page.locator('#live tr[data-host="node-000"]')).to_have_count(0)
    expect(page.locator('nav.pager [aria-current="page"]')).to_have_text("2")
    assert still_same_document(page)
    screenshot(page, "overview-page-2")
