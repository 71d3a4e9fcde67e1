from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from swapadmin.core.models import AuditEvent, Job
from tests.fixtures.cancels import before_the_cancel, ends, removed

from .conftest import HTMX, htmx


def url(job: Job) -> str:
    return reverse("job", args=[job.uuid])


def test_it_shows_the_log_and_progress(as_user: Any, victor: User, running_job: Job) -> None:
    r = as_user(victor).get(url(running_job))
    body = r.content.decode()
    assert r.status_code == 200
    assert "started scan\nwrote pattern 1" in body
    assert '<progress value="42"' in body
    assert 'hx-trigger="every 1s"' in body
    assert 'id="job-cancel"' not in body  # a viewer may not cancel


def test_it_stops_polling_once_finished(as_user: Any, victor: User, running_job: Job) -> None:
    Job.objects.filter(pk=running_job.pk).update(
        state="failed", error="scan: page 7 read back wrong", finished_at=timezone.now()
    )
    r = as_user(victor).get(url(running_job), headers=htmx("live"))
    assert r.status_code == 286
    body = r.content.decode()
    assert "scan: page 7 read back wrong" in body and "hx-trigger" not in body


def test_it_refuses_an_account_without_a_role(as_user: Any, nora: User, running_job: Job) -> None:
    assert as_user(nora).get(url(running_job)).status_code == 403


def test_an_operator_cancels_a_queued_job(as_user: Any, oscar: User, running_job: Job) -> None:
    Job.objects.filter(pk=running_job.pk).update(state="queued")
    r = as_user(oscar).post(reverse("job-cancel", args=[running_job.uuid]), headers=HTMX)
    assert r.status_code == 200
    assert "scan job cancelled." in r.content.decode()
    running_job.refresh_from_db()
    assert running_job.state == "cancelled"


def test_a_running_job_is_asked_to_stop(as_user: Any, oscar: User, running_job: Job) -> None:
    body = as_user(oscar).get(url(running_job)).content.decode()
    assert "Ask it to stop" in body
    as_user(oscar).post(reverse("job-cancel", args=[running_job.uuid]), headers=HTMX)
    running_job.refresh_from_db()
    assert running_job.state == "running" and running_job.cancel_requested


def test_a_viewer_may_not_cancel(as_user: Any, victor: User, running_job: Job) -> None:
    r = as_user(victor).post(reverse("job-cancel", args=[running_job.uuid]), headers=HTMX)
    assert r.status_code == 403
    running_job.refresh_from_db()
    assert not running_job.cancel_requested
    assert AuditEvent.objects.get(action="cancel").outcome == "refused"


def test_a_finished_job_is_not_cancelled(as_user: Any, oscar: User, running_job: Job) -> None:
    """The page may show a job still running that ended a moment ago: the cancel says what
    it found, not "asked to stop" (265/1), and changes nothing."""
    Job.objects.filter(pk=running_job.pk).update(state="succeeded", finished_at=timezone.now())
    r = as_user(oscar).post(reverse("job-cancel", args=[running_job.uuid]), headers=HTMX)
    assert r.status_code == 409
    assert "scan job not cancelled: it had already ended (succeeded)." in r.content.decode()
    running_job.refresh_from_db()
    assert running_job.state == "succeeded" and not running_job.cancel_requested
    event = AuditEvent.objects.get(action="cancel")
    assert (event.outcome, event.detail["state"]) == ("refused", "succeeded")


def test_a_job_that_ends_while_the_cancel_is_on_its_way_is_not_cancelled(
    as_user: Any, oscar: User, running_job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The view read the job running; it ends before the cancel locks its row. The answer
    is the locked row's, without a page reload: not cancelled, no stop asked."""
    before_the_cancel(monkeypatch, ends("failed"))
    r = as_user(oscar).post(reverse("job-cancel", args=[running_job.uuid]))
    assert r.status_code == 302
    page = as_user(oscar).get(r["Location"]).content.decode()
    assert "scan job not cancelled: it had already ended (failed)." in page
    assert "asked to stop" not in page
    running_job.refresh_from_db()
    assert running_job.state == "failed" and not running_job.cancel_requested


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "form"])
def test_a_job_removed_before_the_cancel_is_said_on_the_job_list(
    as_user: Any, oscar: User, running_job: Job, monkeypatch: pytest.MonkeyPatch, htmx: bool
) -> None:
    """Removed between the view's read and the cancel (its host forgotten, or pruned): said
    on the job list, as its own page is no more, with no audit of a cancel that did
    nothing to anything."""
    before_the_cancel(monkeypatch, removed)
    client = as_user(oscar)
    r = client.post(reverse("job-cancel", args=[running_job.uuid]), headers=HTMX if htmx else {})
    if htmx:
        assert (r.status_code, r["HX-Redirect"]) == (204, reverse("jobs"))
    else:
        assert (r.status_code, r["Location"]) == (302, reverse("jobs"))
    page = client.get(reverse("jobs")).content.decode()
    assert f"scan job not cancelled: job {running_job.uuid} is gone (its host forgotten" in page
    assert not AuditEvent.objects.filter(action="cancel").exists()


def test_a_job_removed_before_a_cancel_from_another_page_goes_back_there(
    as_user: Any, oscar: User, running_job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_the_cancel(monkeypatch, removed)
    back = reverse("backend", args=[running_job.backend.uuid])
    r = as_user(oscar).post(
        reverse("job-cancel", args=[running_job.uuid]), {"next": back}, headers=HTMX
    )
    assert (r.status_code, r["HX-Redirect"]) == (204, back)


def test_a_job_removed_before_a_cancel_from_its_own_page_with_a_query_goes_to_the_list(
    as_user: Any, oscar: User, running_job: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_the_cancel(monkeypatch, removed)
    own = reverse("job", args=[running_job.uuid]) + "?tab=log"
    r = as_user(oscar).post(reverse("job-cancel", args=[running_job.uuid]), {"next": own})
    assert (r.status_code, r["Location"]) == (302, reverse("jobs"))


def test_a_second_cancel_says_the_job_is_cancelled_already(
    as_user: Any, oscar: User, running_job: Job
) -> None:
    """A second click, or the page's form sent again: the job is cancelled, and is told so,
    not "not cancelled"; the audit says the second changed nothing."""
    Job.objects.filter(pk=running_job.pk).update(state="queued")
    client = as_user(oscar)
    client.post(reverse("job-cancel", args=[running_job.uuid]), headers=HTMX)
    r = client.post(reverse("job-cancel", args=[running_job.uuid]), headers=HTMX)
    assert r.status_code == 200
    assert "scan job cancelled already." in r.content.decode()
    assert "not cancelled" not in r.content.decode()
    events = AuditEvent.objects.filter(action="cancel").order_by("at")
    assert [(e.outcome, e.detail.get("reason")) for e in events] == [
        ("ok", None),
        ("ok", "cancelled already: nothing changed"),
    ]


def test_a_burn_in_is_named_as_the_pages_name_it(
    as_user: Any, oscar: User, running_job: Job
) -> None:
    Job.objects.filter(pk=running_job.pk).update(kind=Job.Kind.BURN_IN)
    r = as_user(oscar).post(reverse("job-cancel", args=[running_job.uuid]), headers=HTMX)
    assert "burn-in job asked to stop at its next check" in r.content.decode()
