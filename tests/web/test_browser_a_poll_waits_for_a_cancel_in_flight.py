"""In a real browser: an operator clicks Cancel on a backend's page while the cancel is slow
(another session holds the job's row). The page's poll of its live region keeps firing, and
every poll waits for the cancel's answer instead of redrawing the region: the disabled
button is not replaced by an enabled one that a second click could send again (268/7). Once
the cancel answers, the poll that waited goes out."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from swapadmin.core.models import Job
from tests.faults.pause import RowLock, waiting_for
from tests.fixtures.marks import row_locks
from tests.fixtures.workers import wait_until

from .conftest import log_in

pytestmark = [pytest.mark.browser, row_locks]

#: Counts, in the page, the polls of #live htmx triggers ("asked") and those it sends.
#: Both events come from the one call that issues a request, "asked" before the sync check
#: and "sent" after it, so once a poll is asked, whether it was sent is already settled.
WATCH = """() => {
  window.__polls = {asked: 0, sent: 0};
  document.body.addEventListener('htmx:confirm', (e) => {
    if (e.detail.elt.id === 'live') window.__polls.asked++;
  });
  document.body.addEventListener('htmx:beforeRequest', (e) => {
    if (e.detail.elt.id === 'live') window.__polls.sent++;
  });
}"""


def polls(page: Page) -> dict[str, int]:
    return dict(page.evaluate("window.__polls"))


@pytest.mark.django_db(transaction=True)
def test_polls_wait_while_the_cancel_is_held_then_go(
    live_server: Any, oscar: User, running_job: Job, browser_page: Page
) -> None:
    page, base = browser_page, live_server.url
    backend = running_job.backend
    assert backend is not None
    log_in(page, base, "oscar")
    page.goto(f"{base}/backends/{backend.uuid}/")
    button = page.locator(f"#cancel-{backend.uuid}")
    expect(button).to_be_enabled()
    # A mark a redraw would wipe: the button the poll would bring back is a new element.
    button.evaluate("(b) => { b.dataset.clicked = 'yes'; }")
    page.evaluate(WATCH)

    lock = RowLock()
    try:
        lock.take_job(running_job.pk)
        button.click()
        wait_until(lambda: bool(waiting_for(lock.pid)), 30, "the cancel to wait for the row")
        before = polls(page)
        # Two polls asked while the cancel is held: each one either waited or went out.
        page.wait_for_function(f"window.__polls.asked >= {before['asked'] + 2}", timeout=30_000)
        held = polls(page)
        assert held["sent"] == before["sent"], f"a poll went out during the cancel: {held}"
        expect(page.locator(f"#cancel-{backend.uuid}[data-clicked='yes']")).to_be_disabled()
        assert waiting_for(lock.pid), "the cancel stopped waiting before the check"
    finally:
        lock.release()

    expect(page.locator("#flash")).to_contain_text("asked to stop")
    page.wait_for_function(f"window.__polls.sent > {held['sent']}", timeout=30_000)
    running_job.refresh_from_db()
    assert running_job.cancel_requested
