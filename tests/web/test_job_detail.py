from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from swapadmin.core.models import AuditEvent, Job

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
