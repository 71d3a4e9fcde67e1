"""A running job asked to stop is told what comes next (267/8): its worker stops it at its
next check, and if that worker has not confirmed by the first ask's time plus the grace,
the sweep fails the job (and frees its backend). A host that is offline is named: its
worker cannot hear the ask until it is back. Asked again, the time stays the first ask's,
which the sweep counts from. The job's own page says it too, while the job runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from swapadmin.core import orphans
from swapadmin.core.models import Host, Job

from .conftest import HTMX

GRACE = 120.0


def ask(client: Any, job: Job) -> str:
    r = client.post(reverse("job-cancel", args=[job.uuid]), headers=HTMX)
    assert r.status_code == 200, r.content
    return str(r.content.decode())


def deadline(job: Job) -> str:
    job.refresh_from_db()
    assert job.cancel_requested and job.cancel_requested_at is not None
    by = timezone.localtime(job.cancel_requested_at + timedelta(seconds=GRACE))
    # With its date when that is not today's (a test run in the minutes before midnight).
    return f"{by:%H:%M:%S}" if by.date() == timezone.localdate() else f"{by:%Y-%m-%d %H:%M:%S}"


def test_an_online_hosts_job_stops_at_its_next_check_or_is_failed_by_a_time(
    as_user: Any, oscar: User, running_job: Job, settings: Any
) -> None:
    settings.SWAPADMIN_CANCEL_GRACE_SECONDS = GRACE
    body = ask(as_user(oscar), running_job)
    assert (
        "scan job asked to stop at its next check (one past its last finishes, and says so); "
        f"if its worker has not confirmed by {deadline(running_job)}, the job is failed and "
        "its backend freed."
    ) in body


def test_an_offline_hosts_job_says_the_host_is_offline(
    as_user: Any, oscar: User, running_job: Job, settings: Any
) -> None:
    settings.SWAPADMIN_CANCEL_GRACE_SECONDS = GRACE
    Host.objects.filter(pk=running_job.host_id).update(
        last_heartbeat=timezone.now()
        - timedelta(seconds=settings.SWAPADMIN_OFFLINE_AFTER_SECONDS + 5)
    )
    body = ask(as_user(oscar), running_job)
    assert "scan job asked to stop, but its host testhost is offline: " in body
    assert f"if its worker has not confirmed by {deadline(running_job)}, the job is failed" in body
    assert "at its next check" not in body


def test_a_host_job_frees_no_backend(
    as_user: Any, oscar: User, host_row: Host, settings: Any
) -> None:
    settings.SWAPADMIN_CANCEL_GRACE_SECONDS = GRACE
    job = Job.objects.create(
        kind=Job.Kind.DISCOVER, host=host_row, state=Job.State.RUNNING, started_at=timezone.now()
    )
    body = ask(as_user(oscar), job)
    assert f"by {deadline(job)}, the job is failed." in body
    assert "backend freed" not in body
    # Nor does the sweep, once the time has passed.
    Job.objects.filter(pk=job.pk).update(
        cancel_requested_at=timezone.now() - timedelta(seconds=GRACE + 1)
    )
    assert orphans.fail_unconfirmed_cancels() == 1
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert job.error.startswith("cancelled: its worker did not confirm within 120 s")
    assert "backend" not in job.error


def test_asked_again_the_time_is_the_first_asks_and_the_sweep_keeps_it(
    as_user: Any, oscar: User, running_job: Job, settings: Any
) -> None:
    """The time the page gives is the one the sweep acts on: before it the job runs on,
    after it the sweep fails it."""
    settings.SWAPADMIN_CANCEL_GRACE_SECONDS = GRACE
    first = timezone.now() - timedelta(seconds=GRACE - 30)
    Job.objects.filter(pk=running_job.pk).update(cancel_requested=True, cancel_requested_at=first)
    body = ask(as_user(oscar), running_job)
    running_job.refresh_from_db()
    assert running_job.cancel_requested_at == first
    assert f"by {deadline(running_job)}, the job is failed" in body
    assert orphans.fail_unconfirmed_cancels() == 0
    Job.objects.filter(pk=running_job.pk).update(
        cancel_requested_at=timezone.now() - timedelta(seconds=GRACE + 1)
    )
    assert orphans.fail_unconfirmed_cancels() == 1
    running_job.refresh_from_db()
    assert running_job.state == Job.State.FAILED


def test_the_jobs_page_keeps_saying_it(
    as_user: Any, oscar: User, running_job: Job, settings: Any
) -> None:
    settings.SWAPADMIN_CANCEL_GRACE_SECONDS = GRACE
    client = as_user(oscar)
    page = reverse("job", args=[running_job.uuid])
    assert 'id="asked-to-stop"' not in client.get(page).content.decode()
    ask(client, running_job)
    body = client.get(page).content.decode()
    assert "This job was asked to stop at its next check" in body
    assert f"by {deadline(running_job)}, the job is failed and its backend freed." in body


def test_a_deadline_on_another_day_gives_its_date_in_the_sites_zone(
    as_user: Any, oscar: User, running_job: Job, settings: Any
) -> None:
    """A grace of hours can run past midnight: the time alone would read as today's."""
    settings.TIME_ZONE = "America/New_York"
    settings.SWAPADMIN_CANCEL_GRACE_SECONDS = 86400
    body = ask(as_user(oscar), running_job)
    running_job.refresh_from_db()
    assert running_job.cancel_requested_at is not None
    by = timezone.localtime(running_job.cancel_requested_at + timedelta(days=1))
    assert str(by.tzinfo) == "America/New_York"
    assert f"by {by:%Y-%m-%d %H:%M:%S}, the job is failed" in body


def test_a_flag_with_no_time_says_the_sweep_never_fails_it(
    as_user: Any, oscar: User, running_job: Job
) -> None:
    """Another machine's row, flagged with no time: the job's page gives no deadline that
    would move on at every poll, and says how to get one."""
    Job.objects.filter(pk=running_job.pk).update(cancel_requested=True, cancel_requested_at=None)
    body = as_user(oscar).get(reverse("job", args=[running_job.uuid])).content.decode()
    assert "no time was recorded for the ask, so the sweep never fails it: cancel it again" in body
    assert "confirmed by" not in body
