"""The create form offers to activate the new backend in the provision's own job, as the
API's ``"activate": true`` does: the review says the kernel will use it and the job carries
it. Unticked, the review says it stays inactive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core.models import Backend, Host, Job

from .conftest import htmx
from .test_backend_new import fields

pytestmark = pytest.mark.django_db

URL = reverse("backend-new")


def test_the_form_offers_it(as_user: Any, alice: User, host_row: Host) -> None:
    assert 'name="activate"' in as_user(alice).get(URL).content.decode()


def test_ticked_the_review_says_so_and_the_job_activates(
    as_user: Any, alice: User, host_row: Host, swap_root: Path
) -> None:
    data = {**fields(host_row, swap_root), "activate": "on", "priority": "7"}
    review = as_user(alice).post(URL, data, headers=htmx("new-form")).content.decode()
    assert "Then activate it (swapon) at priority 7, in the same job" in review
    assert "It stays inactive" not in review
    # The reviewed choice travels to the create step.
    assert 'name="activate" value="on"' in review
    r = as_user(alice).post(URL, {**data, "step": "create"}, follow=True)
    assert "provisioning and activation queued" in r.content.decode()
    job = Job.objects.get(backend__name="swap2")
    assert job.kind == "provision" and job.params == {"force": False, "activate": True}
    # Desired active once the job has swapped it on, not before (a failed create must leave
    # nothing for auto-repair to turn on).
    assert Backend.objects.get(name="swap2").desired_state == Backend.Desired.INACTIVE


def test_unticked_it_stays_inactive(
    as_user: Any, alice: User, host_row: Host, swap_root: Path
) -> None:
    data = fields(host_row, swap_root)
    review = as_user(alice).post(URL, data, headers=htmx("new-form")).content.decode()
    assert "It stays inactive" in review
    as_user(alice).post(URL, {**data, "step": "create"})
    assert Job.objects.get(backend__name="swap2").params == {"force": False}
    assert Backend.objects.get(name="swap2").desired_state == Backend.Desired.INACTIVE
