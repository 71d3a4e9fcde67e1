"""The create form carries auto-repair and force with the typed name, as the API does:
auto-repair is set on the new backend; force without the name typed is refused at the
review, beside the confirmation, and creates nothing; with it, the provision is forced."""

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


def test_the_form_offers_both(as_user: Any, alice: User, host_row: Host) -> None:
    body = as_user(alice).get(URL).content.decode()
    assert 'name="auto_repair"' in body
    assert 'name="force"' in body and 'name="confirm"' in body


def test_auto_repair_is_set_on_the_new_backend(
    as_user: Any, alice: User, host_row: Host, swap_root: Path
) -> None:
    r = as_user(alice).post(
        URL, {**fields(host_row, swap_root), "auto_repair": "on", "step": "create"}
    )
    assert r.status_code == 302
    assert Backend.objects.get(name="swap2").auto_repair is True


def test_force_without_the_name_typed_is_refused_at_the_review(
    as_user: Any, alice: User, host_row: Host, swap_root: Path
) -> None:
    r = as_user(alice).post(
        URL,
        {**fields(host_row, swap_root), "force": "on", "confirm": "swap"},
        headers=htmx("new-form"),
    )
    assert r.status_code == 422
    body = r.content.decode()
    assert 'id="id_confirm_error"' in body and "swap2" in body
    assert not Backend.objects.exists() and not Job.objects.exists()


def test_force_with_the_name_typed_forces_the_provision(
    as_user: Any, alice: User, host_row: Host, swap_root: Path
) -> None:
    data = {**fields(host_row, swap_root), "force": "on", "confirm": "swap2"}
    review = as_user(alice).post(URL, data, headers=htmx("new-form")).content.decode()
    assert "overwritten with a swap area" in review
    r = as_user(alice).post(URL, {**data, "step": "create"})
    assert r.status_code == 302
    job = Job.objects.get(backend__name="swap2")
    assert job.kind == "provision" and job.params == {"force": True}
