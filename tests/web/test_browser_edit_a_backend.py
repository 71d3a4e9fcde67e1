"""In a real browser, against a live server and a real worker: an admin opens a swap
file's page, follows "Edit settings…", types a new label and saves; the edit job rewrites
the label in the area's header, and the backend page shows it without a reload."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from backends import header
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import WorkerProcess, wait_for_job

from .conftest import log_in, mark_no_reload, screenshot, still_same_document

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.root, needs_root]

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@pytest.mark.django_db(transaction=True)
def test_an_admin_edits_a_label_on_the_edit_page(
    live_server: Any, worker: WorkerProcess, alice: User, browser_page: Page
) -> None:
    page, base = browser_page, live_server.url
    path = worker.swap_root / "web-edit"
    job = services.create_backend(
        host=worker.host, kind="file", name="web-edit", size_bytes=8 << 20,
        actor=Actor(alice, Job.Via.API), params={"path": str(path)}, label="before",
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name="web-edit")

    log_in(page, base, "alice")
    page.goto(f"{base}/backends/{backend.uuid}/")
    page.get_by_role("link", name="Edit settings…").click()
    page.wait_for_url(re.compile(r"/backends/[0-9a-f-]{36}/edit/$"))
    label = page.get_by_label("Label")
    expect(label).to_have_value("before")

    # Too long first: the form says so beside the field and nothing is queued.
    label.fill("a-label-too-long-for-swap")
    page.get_by_role("button", name="Save web-edit").click()
    expect(page.locator("#id_label_error")).to_contain_text("16 bytes")
    assert not Job.objects.filter(backend=backend, kind=Job.Kind.EDIT).exists()
    screenshot(page, "backend-edit-error")

    page.get_by_label("Label").fill("after")
    page.get_by_role("button", name="Save web-edit").click()
    page.wait_for_url(f"{base}/backends/{backend.uuid}/")
    mark_no_reload(page)
    edit = Job.objects.get(backend=backend, kind=Job.Kind.EDIT)
    assert wait_for_job(edit, 60, worker=worker).state == Job.State.SUCCEEDED
    facts = page.locator("#hdr-h + dl")
    expect(facts).to_contain_text("after", timeout=15_000)
    assert still_same_document(page)
    screenshot(page, "backend-after-edit")
    with open(path, "rb") as f:
        assert header.parse_header(f.read(PAGE_SIZE), PAGE_SIZE).label == "after"
