"""jobs/: read, filter, follow; POST jobs/{id}/cancel/ cancels a queued job, asks a running
one to stop, and refuses a finished one with 409."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from swapadmin.core.models import AuditEvent, Backend, Host, Job
from tests.fixtures.cancels import before_the_cancel, ends, removed


def new_job(backend: Backend, kind: str = "scan", state: str = "queued") -> Job:
    return Job.objects.create(
        kind=kind, host=backend.host, backend=backend, backend_name=backend.name, state=state
    )


def test_it_shows_a_job_with_iso_times(
    victor: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    job = new_job(backend)
    Job.objects.filter(pk=job.pk).update(
        state="succeeded", started_at=timezone.now(), finished_at=timezone.now(),
        result={"bad_pages": []}, log="wrote 4 patterns\n",
    )  # fmt: skip
    r = as_user(victor).get(f"/api/v1/jobs/{job.uuid}/")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == str(job.uuid)
    assert body["backend"] == str(backend.uuid)
    assert body["host"] == str(backend.host.uuid)
    assert body["result"] == {"bad_pages": []}
    assert body["queued_at"].endswith("Z") and "T" in body["queued_at"]
    assert body["duration_seconds"] >= 0


def test_it_filters_by_state_kind_backend_and_host(
    victor: User, make_backend: Callable[..., Backend], as_user: Callable[..., APIClient]
) -> None:
    a, b = make_backend("a"), make_backend("b")
    scan_a = new_job(a, "scan")
    new_job(a, "activate", "succeeded")
    new_job(b, "scan", "failed")
    client = as_user(victor)

    def ids(query: str) -> set[str]:
        r = client.get(f"/api/v1/jobs/?{query}")
        assert r.status_code == 200, r.content
        return {j["id"] for j in r.json()["results"]}

    assert ids("state=queued") == {str(scan_a.uuid)}
    assert len(ids("state=succeeded&state=failed")) == 2
    assert len(ids("kind=scan")) == 2
    assert len(ids(f"backend={a.uuid}")) == 2
    assert ids(f"backend={a.uuid}&kind=scan") == {str(scan_a.uuid)}
    assert len(ids(f"host={a.host.uuid}")) == 3
    assert ids(f"host={uuid.uuid4()}") == set()
    assert client.get("/api/v1/jobs/?state=sleeping").status_code == 400


def test_cancel_a_queued_job(
    oscar: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    job = new_job(backend)
    Job.objects.filter(pk=job.pk).update(error="words another machine wrote")
    r = as_user(oscar).post(f"/api/v1/jobs/{job.uuid}/cancel/")
    assert r.status_code == 200
    assert r.json()["error"] == ""  # no try ran: no failure to keep (265/3)
    assert r.json()["state"] == "cancelled"
    assert r.json()["cancel_requested"] is True  # asked, then ended: 263/1
    assert r.json()["progress_message"] == "cancelled before it started"
    job.refresh_from_db()
    assert job.state == "cancelled"
    event = AuditEvent.objects.get(action="cancel")
    assert (event.outcome, event.actor_name, event.object_uuid) == ("ok", "oscar", job.uuid)
    # Asked again (a client's retry after a timeout): the job is cancelled, so that is the
    # answer, not a conflict.
    again = as_user(oscar).post(f"/api/v1/jobs/{job.uuid}/cancel/")
    assert again.status_code == 200 and again.json()["state"] == "cancelled"


def test_cancel_asks_a_running_job_to_stop(
    oscar: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    job = new_job(backend, state="running")
    r = as_user(oscar).post(f"/api/v1/jobs/{job.uuid}/cancel/")
    assert r.status_code == 202
    assert r.json()["state"] == "running"
    assert r.json()["cancel_requested"] is True
    asked_at = Job.objects.get(pk=job.pk).cancel_requested_at
    assert asked_at is not None
    # The time the sweep's grace runs from, for a client to tell when the job is failed
    # if its worker never confirms (267/8).
    assert parse_datetime(r.json()["cancel_requested_at"]) == asked_at
    again = as_user(oscar).post(f"/api/v1/jobs/{job.uuid}/cancel/")
    assert again.status_code == 202  # still running, still asked
    assert parse_datetime(again.json()["cancel_requested_at"]) == asked_at
    # The grace the sweep gives a worker to confirm runs from the first ask, not the last,
    # and the audit says the second asked nothing new.
    assert Job.objects.get(pk=job.pk).cancel_requested_at == asked_at
    second = AuditEvent.objects.filter(action="cancel").latest("at")
    assert second.detail["asked_before_at"] == asked_at.isoformat()


def test_a_cancel_asked_with_no_time_gets_one(
    oscar: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    """A flag with no time (a row from before the time was kept, or another machine's):
    without one, the sweep would never end the job if its worker does not answer."""
    job = new_job(backend, state="running")
    Job.objects.filter(pk=job.pk).update(cancel_requested=True, cancel_requested_at=None)
    assert as_user(oscar).post(f"/api/v1/jobs/{job.uuid}/cancel/").status_code == 202
    assert Job.objects.get(pk=job.pk).cancel_requested_at is not None


def test_a_job_in_a_state_this_version_does_not_know_is_not_cancelled(
    oscar: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    job = new_job(backend)
    Job.objects.filter(pk=job.pk).update(state="paused")  # another version's row
    r = as_user(oscar).post(f"/api/v1/jobs/{job.uuid}/cancel/")
    assert r.status_code == 409
    assert "in state 'paused', which this version does not know" in r.json()["detail"]
    assert Job.objects.get(pk=job.pk).cancel_requested is False


def test_cancel_a_finished_job_is_409(
    oscar: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    job = new_job(backend, state="succeeded")
    r = as_user(oscar).post(f"/api/v1/jobs/{job.uuid}/cancel/")
    assert r.status_code == 409
    assert r.json()["job"]["state"] == "succeeded"
    assert "already ended (succeeded)" in r.json()["detail"]
    assert r.json()["job"]["cancel_requested"] is False


def test_a_job_that_ends_before_the_cancel_locks_it_is_409(
    oscar: User,
    backend: Backend,
    as_user: Callable[..., APIClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The view read it running; it ended before the cancel locked its row. The answer is
    the locked row's: 409, not 202 "asked to stop" of a job that will never stop (265/1)."""
    job = new_job(backend, state="running")
    before_the_cancel(monkeypatch, ends("succeeded"))
    r = as_user(oscar).post(f"/api/v1/jobs/{job.uuid}/cancel/")
    assert r.status_code == 409
    assert r.json()["job"]["state"] == "succeeded"
    assert r.json()["job"]["cancel_requested"] is False
    assert "already ended (succeeded)" in r.json()["detail"]
    assert AuditEvent.objects.get(action="cancel").outcome == "refused"


def test_a_job_gone_before_the_cancel_locks_it_is_404(
    oscar: User,
    backend: Backend,
    as_user: Callable[..., APIClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = new_job(backend, state="running")
    before_the_cancel(monkeypatch, removed)
    r = as_user(oscar).post(f"/api/v1/jobs/{job.uuid}/cancel/")
    assert r.status_code == 404
    assert "is gone" in r.json()["detail"]
    assert not AuditEvent.objects.filter(action="cancel").exists()


def test_a_job_the_sweep_failed_after_a_cancel_says_so(
    oscar: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    """Its worker never confirmed the cancel, and the sweep failed it: a client asking
    again is told what became of the first ask (268/5)."""
    job = new_job(backend, state="failed")
    Job.objects.filter(pk=job.pk).update(cancel_requested=True, cancel_requested_at=timezone.now())
    r = as_user(oscar).post(f"/api/v1/jobs/{job.uuid}/cancel/")
    assert r.status_code == 409
    assert "failed, after a cancel was asked: its error says why" in r.json()["detail"]


def test_cancel_a_missing_job_is_404(oscar: User, as_user: Callable[..., APIClient]) -> None:
    assert as_user(oscar).post(f"/api/v1/jobs/{uuid.uuid4()}/cancel/").status_code == 404


def test_jobs_of_a_removed_backend_stay_readable(
    victor: User, host_row: Host, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    job = new_job(backend, "destroy", "succeeded")
    backend.delete()
    r = as_user(victor).get(f"/api/v1/jobs/{job.uuid}/")
    assert r.status_code == 200
    assert r.json()["backend"] is None
    assert r.json()["backend_name"] == "swap0"


def test_a_job_waiting_for_its_retry_says_which_try_and_what_failed(
    victor: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    """Its waiting reason is rewritten by a dispatch: the attempt and the kept failure say
    it is a retry, and why (261/2, 260/3)."""
    job = new_job(backend, kind="activate")
    Job.objects.filter(pk=job.pk).update(attempt=2, error="the device is busy")

    body = as_user(victor).get(f"/api/v1/jobs/{job.uuid}/").json()

    assert (body["state"], body["attempt"], body["error"]) == ("queued", 2, "the device is busy")
