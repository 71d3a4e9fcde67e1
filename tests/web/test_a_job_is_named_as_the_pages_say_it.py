"""A burn-in job is "burn-in" wherever words name it (``Job.kind_word``): a busy backend's
link, its cancel button's label, the progress bar's label, the edit page's notice, the
refusal of an action or an edit (on the pages and in the API's detail), the job list and
the job's own page. The kind's key ("burn_in") is for the API's fields and the pages' data
attributes, not for a sentence a person reads."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from rest_framework.test import APIClient

from backends.errors import NotOursError
from swapadmin.core import runner
from swapadmin.core.models import Job
from tests.fixtures.tokens import token_for

from .conftest import HTMX


@pytest.fixture
def burn_in(running_job: Job) -> Job:
    """The running job, a burn-in."""
    Job.objects.filter(pk=running_job.pk).update(kind=Job.Kind.BURN_IN)
    running_job.refresh_from_db()
    return running_job


@pytest.mark.parametrize("page", ["host", "backend"])
def test_the_busy_link_and_the_cancel_button_say_burn_in(
    as_user: Any, oscar: User, burn_in: Job, page: str
) -> None:
    backend = burn_in.backend
    assert backend is not None
    target = backend.host.uuid if page == "host" else backend.uuid
    body = as_user(oscar).get(reverse(page, args=[target])).content.decode()
    assert "burn-in job</a>" in body
    assert 'aria-label="Cancel the burn-in job on swap1"' in body
    assert 'aria-label="burn-in progress"' in body
    assert "burn_in job" not in body and 'aria-label="burn_in' not in body


def test_an_action_refused_as_busy_says_burn_in(as_user: Any, oscar: User, burn_in: Job) -> None:
    backend = burn_in.backend
    assert backend is not None
    r = as_user(oscar).post(reverse("backend-action", args=[backend.uuid, "scan"]), headers=HTMX)
    assert r.status_code == 409
    assert f"busy: burn-in job {burn_in.uuid} is running" in r.content.decode()
    assert Job.objects.count() == 1


def test_the_edit_page_says_burn_in(as_user: Any, alice: User, burn_in: Job) -> None:
    backend = burn_in.backend
    assert backend is not None
    edit = reverse("backend-edit", args=[backend.uuid])
    assert "A burn-in job holds swap1" in as_user(alice).get(edit).content.decode()
    form = {"label": "held", "priority": 10, "discard": "", "apply": "now"}
    r = as_user(alice).post(edit, form)
    assert r.status_code == 409
    assert f"busy: burn-in job {burn_in.uuid} is running; try again" in r.content.decode()
    backend.refresh_from_db()
    assert backend.label == ""


def test_the_job_list_and_the_jobs_page_say_burn_in(
    as_user: Any, victor: User, burn_in: Job
) -> None:
    client = as_user(victor)
    listed = client.get(reverse("jobs")).content.decode()
    assert 'data-kind="burn_in"' in listed
    assert f'<a href="{reverse("job", args=[burn_in.uuid])}">burn-in</a>' in listed
    own = client.get(reverse("job", args=[burn_in.uuid])).content.decode()
    assert "<title>burn-in job · swapadmin</title>" in own
    assert "<h1>Burn-in swap1</h1>" in own
    assert "burn_in" not in own.replace('"burn_in"', "")


def test_the_apis_busy_detail_says_burn_in(oscar: User, burn_in: Job) -> None:
    backend = burn_in.backend
    assert backend is not None
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_for(oscar)}")
    r = api.post(f"/api/v1/backends/{backend.uuid}/scan/")
    assert r.status_code == 409
    assert f"swap1 is busy: burn-in job {burn_in.uuid} is running" in r.json()["detail"]


def test_a_refusal_for_a_backend_never_provisioned_says_burn_in(burn_in: Job) -> None:
    backend = burn_in.backend
    assert backend is not None
    backend.provisioned_at = None
    with pytest.raises(NotOursError) as refused:
        runner.check_not_provisioned(burn_in, backend)
    assert "so a burn-in job is refused" in refused.value.message
