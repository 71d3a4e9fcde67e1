from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from swapadmin.core.models import Job

from .conftest import htmx

URL = reverse("jobs")


@pytest.mark.parametrize("who", ["alice", "oscar", "victor"])
def test_it_works_for_every_role(
    request: pytest.FixtureRequest, as_user: Any, running_job: Job, who: str
) -> None:
    r = as_user(request.getfixturevalue(who)).get(URL)
    body = r.content.decode()
    assert r.status_code == 200
    assert f'data-job="{running_job.uuid}"' in body
    assert '<progress value="42" max="100"' in body


def test_it_refuses_an_account_without_a_role(as_user: Any, nora: User) -> None:
    assert as_user(nora).get(URL).status_code == 403


def test_it_polls_while_a_job_is_live(as_user: Any, victor: User, running_job: Job) -> None:
    r = as_user(victor).get(URL, headers=htmx("live"))
    assert r.status_code == 200
    body = r.content.decode()
    assert body.lstrip().startswith('<section id="live"')
    assert 'hx-trigger="every 1s"' in body


def test_it_stops_polling_when_nothing_is_live(
    as_user: Any, victor: User, running_job: Job
) -> None:
    Job.objects.filter(pk=running_job.pk).update(
        state="succeeded", progress=100, finished_at=timezone.now()
    )
    r = as_user(victor).get(URL, headers=htmx("live"))
    assert r.status_code == 286
    body = r.content.decode()
    assert "hx-trigger" not in body
    assert '<span class="jstate jstate-succeeded">succeeded</span>' in body
    # A whole page is a plain 200 (browsers and crawlers do not know 286).
    assert as_user(victor).get(URL).status_code == 200
