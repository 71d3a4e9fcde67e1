"""In a real browser: the one-second poll of a page's live region and the Cancel buttons
inside it (268/7, review 270/1).

- While a cancel waits for its answer (another session holds the job's row), the polls go
  on but none redraws the region: the disabled button is not replaced by an enabled one
  that a second click could send again. Once the answer is in, the region is redrawn.
- A click while a poll is slow (another session locks a table the poll reads) is sent at
  once, not queued behind the poll and dropped when the poll redraws its form.
- Two cancels of two backends' jobs, the first still waiting, are both sent and both land.
- A job that ends while its cancel waits: the poll's last answer (HTTP 286) is drawn all
  the same, and polling stops (htmx stops it only when it swaps that answer).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, Route, expect

from swapadmin.core.models import Backend, Job
from tests.faults.pause import RowLock, waiting_for
from tests.fixtures.marks import row_locks
from tests.fixtures.workers import test_database_url as database_url
from tests.fixtures.workers import wait_until

from .conftest import log_in

pytestmark = [pytest.mark.browser, row_locks, pytest.mark.django_db(transaction=True)]

#: Counts, in the page, the polls of #live htmx asks for and the answers that come in (each
#: before the page's own handler may refuse its swap), and marks the region as drawn first:
#: a redraw replaces the element, mark and all.
WATCH = """() => {
  window.__polls = {asked: 0, answered: 0};
  document.body.addEventListener('htmx:confirm', (e) => {
    if (e.detail.elt.id === 'live') window.__polls.asked++;
  });
  document.body.addEventListener('htmx:beforeSwap', (e) => {
    if (e.detail.elt.id === 'live') window.__polls.answered++;
  });
  document.querySelector('#live').dataset.first = 'yes';
}"""


def polls(page: Page) -> dict[str, int]:
    return dict(page.evaluate("window.__polls"))


def open_page(page: Page, base: str, path: str) -> None:
    log_in(page, base, "oscar")
    page.goto(base + path)
    page.evaluate(WATCH)


def mark(page: Page, selector: str) -> None:
    """A mark a redraw would wipe: a button the poll brought back is a new element."""
    page.locator(selector).evaluate("(b) => { b.dataset.clicked = 'yes'; }")


@pytest.fixture
def held_job() -> Iterator[RowLock]:
    lock = RowLock()
    try:
        yield lock
    finally:
        lock.release()


def test_no_poll_redraws_the_region_while_the_cancel_waits(
    live_server: Any, oscar: User, running_job: Job, browser_page: Page, held_job: RowLock
) -> None:
    page, backend = browser_page, running_job.backend
    assert backend is not None
    button = f"#cancel-{backend.uuid}"
    open_page(page, live_server.url, f"/backends/{backend.uuid}/")
    mark(page, button)

    held_job.take_job(running_job.pk)
    page.locator(button).click()
    wait_until(lambda: bool(waiting_for(held_job.pid)), 30, "the cancel to wait for the row")
    # Two polls answered while the cancel is held: each one's redraw refused, or made.
    answered = polls(page)["answered"]
    page.wait_for_function(f"window.__polls.answered >= {answered + 2}")
    assert page.locator("#live[data-first='yes']").count() == 1, "a poll redrew the region"
    expect(page.locator(f"#live {button}[data-clicked='yes']")).to_be_disabled()
    assert waiting_for(held_job.pid), "the cancel stopped waiting before the check"
    held_job.release()

    expect(page.locator("#flash")).to_contain_text("asked to stop")
    # Redrawn once the answer is in.
    expect(page.locator("#live[data-first='yes']")).to_have_count(0)
    running_job.refresh_from_db()
    assert running_job.cancel_requested


def test_a_click_while_a_poll_is_slow_is_sent_at_once(
    live_server: Any, oscar: User, running_job: Job, browser_page: Page
) -> None:
    page, backend = browser_page, running_job.backend
    assert backend is not None
    open_page(page, live_server.url, f"/backends/{backend.uuid}/")
    slow = psycopg.connect(database_url(), autocommit=False)
    try:
        # The backend page reads its health; the cancel does not.
        slow.execute("LOCK TABLE health_backendhealth IN ACCESS EXCLUSIVE MODE")
        pid = slow.info.backend_pid
        wait_until(lambda: bool(waiting_for(pid)), 30, "a poll to wait for the table")
        # And the next poll asked meanwhile, queued behind the slow one.
        asked = polls(page)["asked"]
        page.wait_for_function(f"window.__polls.asked > {asked}")
        page.locator(f"#cancel-{backend.uuid}").click()
        expect(page.locator("#flash")).to_contain_text("asked to stop")
        running_job.refresh_from_db()
        assert running_job.cancel_requested
        assert waiting_for(pid), "the poll stopped waiting before the cancel was in"
    finally:
        slow.close()


def test_two_cancels_in_flight_are_both_sent(
    live_server: Any, oscar: User, running_job: Job, browser_page: Page, held_job: RowLock
) -> None:
    page, first = browser_page, running_job.backend
    assert first is not None
    second = Backend.objects.create(
        host=first.host, kind="file", name="swap2", params={"path": f"{first.params['path']}2"},
        size_bytes=first.size_bytes, observed_state=Backend.Observed.READY,
    )  # fmt: skip
    other = Job.objects.create(
        kind=Job.Kind.BENCHMARK, host=first.host, backend=second, backend_name=second.name,
        state=Job.State.RUNNING, started_at=timezone.now(),
    )  # fmt: skip
    open_page(page, live_server.url, f"/hosts/{first.host.uuid}/")

    held_job.take_job(running_job.pk)
    page.locator(f"#cancel-{first.uuid}").click()
    wait_until(lambda: bool(waiting_for(held_job.pid)), 30, "the first cancel to wait")
    asked = polls(page)["asked"]
    page.wait_for_function(f"window.__polls.asked > {asked}")  # a poll during the first
    page.locator(f"#cancel-{second.uuid}").click()
    # The second's answer (a benchmark's), while the first still waits.
    expect(page.locator("#flash")).to_contain_text("benchmark job asked to stop")
    other.refresh_from_db()
    assert other.cancel_requested
    assert waiting_for(held_job.pid), "the first cancel stopped waiting"
    held_job.release()

    # The first's answer (a scan's) comes in too, and the region is redrawn.
    expect(page.locator("#flash")).to_contain_text("scan job asked to stop")
    running_job.refresh_from_db()
    assert running_job.cancel_requested
    expect(page.locator("#live[data-first='yes']")).to_have_count(0)


def test_the_last_answer_is_drawn_though_a_cancel_waits(
    live_server: Any, oscar: User, running_job: Job, browser_page: Page
) -> None:
    page = browser_page
    open_page(page, live_server.url, reverse("job", args=[running_job.uuid]))
    held: list[Route] = []
    page.route("**/cancel/", lambda route: held.append(route))  # answered when let go
    try:
        with page.expect_request("**/cancel/"):
            page.locator("#job-cancel").click()
        Job.objects.filter(pk=running_job.pk).update(
            state=Job.State.SUCCEEDED, finished_at=timezone.now(), progress=100
        )
        expect(page.locator("#live")).to_have_attribute("data-polling", "off")
        expect(page.locator("#job-cancel")).to_have_count(0)
        assert held, "the cancel was not held"
    finally:
        for route in held:
            route.continue_()
    expect(page.locator("#flash")).to_contain_text("not cancelled: it had already ended")
