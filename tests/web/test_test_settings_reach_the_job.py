"""The scan, benchmark and burn-in settings forms on the backend page: what is typed
becomes the job's params; a value out of range is refused naming it, and nothing is queued.
The one-click buttons still queue the defaults."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core.models import Backend, Job

from .conftest import HTMX

pytestmark = pytest.mark.django_db

MIB = 1 << 20


def url(b: Backend, action: str) -> str:
    return reverse("backend-action", args=[b.uuid, action])


def test_the_page_shows_each_tests_settings(as_user: Any, oscar: User, backend: Backend) -> None:
    body = as_user(oscar).get(reverse("backend", args=[backend.uuid])).content.decode()
    for form_id in ("test-scan", "test-benchmark", "test-burn_in"):
        assert f'id="{form_id}"' in body
    assert 'name="patterns"' in body and 'name="memory_limit_mib"' in body


@pytest.mark.parametrize(
    ("action", "posted", "params"),
    [
        ("scan", {"patterns": "2"}, {"patterns": 2}),
        ("benchmark", {"seconds": "9"}, {"seconds": 9}),
        (
            "burn_in",
            {"seconds": "12", "memory_limit_mib": "32", "hog_mib": "96"},
            {"seconds": 12, "memory_limit_bytes": 32 * MIB, "hog_bytes": 96 * MIB},
        ),
    ],
)
def test_the_settings_become_the_jobs_params(
    action: str,
    posted: dict[str, str],
    params: dict[str, int],
    as_user: Any,
    oscar: User,
    backend: Backend,
) -> None:
    r = as_user(oscar).post(url(backend, action), posted, headers=HTMX)
    assert r.status_code == 200, r.content
    job = Job.objects.get(backend=backend)
    assert job.kind == action and job.params == params


@pytest.mark.parametrize(
    ("action", "posted", "words"),
    [
        ("scan", {"patterns": "9"}, "less than or equal to 4"),
        ("benchmark", {"seconds": "0"}, "greater than or equal to 1"),
        ("burn_in", {"seconds": "10", "memory_limit_mib": "1", "hog_mib": "96"}, "equal to 16"),
    ],
)
def test_a_setting_out_of_range_queues_nothing(
    action: str, posted: dict[str, str], words: str, as_user: Any, oscar: User, backend: Backend
) -> None:
    r = as_user(oscar).post(url(backend, action), posted, headers=HTMX)
    assert r.status_code == 422
    assert words in r.content.decode()
    assert not Job.objects.exists()


def test_the_one_click_scan_queues_the_defaults(
    as_user: Any, oscar: User, backend: Backend
) -> None:
    as_user(oscar).post(url(backend, "scan"), headers=HTMX)
    assert Job.objects.get(backend=backend).params == {"patterns": 4}
