"""In a real browser: an operator opens API tokens from the nav, makes a token, sees its
secret once (the secret works against the API), and revokes it; the row goes without a
reload and the secret stops working."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from .conftest import log_in, mark_no_reload, screenshot, still_same_document

pytestmark = [pytest.mark.browser]


@pytest.mark.django_db(transaction=True)
def test_make_and_revoke_a_token(live_server: Any, oscar: User, browser_page: Page) -> None:
    page, base = browser_page, live_server.url
    log_in(page, base, "oscar")
    page.get_by_role("link", name="API tokens").click()
    page.wait_for_url(base + "/tokens/")
    mark_no_reload(page)

    page.get_by_label("Name").fill("nightly report")
    page.get_by_label("Expires in (days)").fill("14")
    page.get_by_role("button", name="Create token").click()
    secret_box = page.locator("#secret")
    expect(secret_box).to_have_text(re.compile(r"^\s*[0-9a-f]{64}\s*$"))
    secret = secret_box.inner_text().strip()
    row = page.locator("tr", has_text="nightly report")
    expect(row).to_be_visible()
    screenshot(page, "tokens-created")
    api = f"{base}/api/v1/hosts/"
    auth = {"Authorization": f"Token {secret}"}
    assert requests.get(api, headers=auth, timeout=10).status_code == 200

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke nightly report").click()
    expect(page.locator("#revoked")).to_contain_text("revoked")
    expect(page.locator("tr", has_text="nightly report")).to_have_count(0)
    expect(page.locator("#secret")).to_have_count(0)
    assert still_same_document(page)
    assert requests.get(api, headers=auth, timeout=10).status_code == 401
