"""The edit page: the form shows the backend's settings; a database-only change is saved
with its audit event, a change on the host queues a job; bad input stays on the form with
the field named and changes nothing; htmx gets the form's partial; only admins edit."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core.models import AuditEvent, Backend, Job

from .conftest import HTMX, htmx

pytestmark = pytest.mark.django_db


def url(b: Backend) -> str:
    return reverse("backend-edit", args=[b.uuid])


def form_data(b: Backend, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "label": b.label,
        "priority": "" if b.priority is None else b.priority,
        "discard": b.discard,
        "apply": "next_activation",
    }
    if b.persist:
        data["persist"] = "on"
    if b.auto_repair:
        data["auto_repair"] = "on"
    data.update(changes)
    return data


def test_the_form_shows_the_backends_settings(as_user: Any, alice: User, backend: Backend) -> None:
    r = as_user(alice).get(url(backend))
    assert r.status_code == 200
    body = r.content.decode()
    assert 'name="priority"' in body and 'value="10"' in body
    assert 'value="next_activation"' in body and 'value="now"' in body
    assert "Save swap1" in body


def test_the_backend_page_links_to_it_for_admins_only(
    as_user: Any, alice: User, oscar: User, backend: Backend
) -> None:
    page = reverse("backend", args=[backend.uuid])
    assert url(backend) in as_user(alice).get(page).content.decode()
    assert url(backend) not in as_user(oscar).get(page).content.decode()


def test_auto_repair_is_saved_with_an_audit_event(
    as_user: Any, alice: User, backend: Backend
) -> None:
    r = as_user(alice).post(url(backend), form_data(backend, auto_repair="on"))
    assert r.status_code == 302 and r["Location"] == reverse("backend", args=[backend.uuid])
    backend.refresh_from_db()
    assert backend.auto_repair is True
    assert not Job.objects.exists()
    event = AuditEvent.objects.get(action="edit")
    assert event.via == "page" and event.detail["changes"] == {"auto_repair": [False, True]}


def test_a_new_label_queues_an_edit_job(as_user: Any, alice: User, backend: Backend) -> None:
    r = as_user(alice).post(url(backend), form_data(backend, label="renamed"), headers=HTMX)
    assert r.status_code == 204 and r["HX-Redirect"] == reverse("backend", args=[backend.uuid])
    job = Job.objects.get(backend=backend)
    assert job.kind == "edit" and job.params == {"label": "renamed"} and job.via == "page"


def test_a_long_label_is_refused_beside_its_field(
    as_user: Any, alice: User, backend: Backend
) -> None:
    r = as_user(alice).post(
        url(backend), form_data(backend, label="x" * 17, priority=3), headers=htmx("edit-form")
    )
    assert r.status_code == 422
    body = r.content.decode()
    assert body.lstrip().startswith('<section id="edit-form"')  # the partial, not the page
    assert 'id="id_label_error"' in body and "16 bytes" in body
    backend.refresh_from_db()
    assert backend.label == "" and backend.priority == 10
    assert not Job.objects.exists() and not AuditEvent.objects.filter(action="edit").exists()


def test_a_priority_out_of_range_is_refused_beside_its_field(
    as_user: Any, alice: User, backend: Backend
) -> None:
    r = as_user(alice).post(url(backend), form_data(backend, priority=40000))
    assert r.status_code == 422
    assert 'id="id_priority_error"' in r.content.decode()
    backend.refresh_from_db()
    assert backend.priority == 10


def test_a_busy_backend_says_which_job_holds_it(
    as_user: Any, alice: User, running_job: Job
) -> None:
    backend = running_job.backend
    assert backend is not None
    r = as_user(alice).post(url(backend), form_data(backend, label="busy"))
    assert r.status_code == 409
    assert f"busy: scan job {running_job.uuid} is running" in r.content.decode()
    assert Job.objects.count() == 1


def test_an_unchanged_form_asks_nothing(as_user: Any, alice: User, backend: Backend) -> None:
    r = as_user(alice).post(url(backend), form_data(backend))
    assert r.status_code == 302
    assert not Job.objects.exists() and not AuditEvent.objects.filter(action="edit").exists()


@pytest.mark.parametrize("who", ["oscar", "victor"])
def test_only_an_admin_edits(who: str, as_user: Any, request: Any, backend: Backend) -> None:
    user = request.getfixturevalue(who)
    assert as_user(user).get(url(backend)).status_code == 403
    r = as_user(user).post(url(backend), form_data(backend, auto_repair="on"))
    assert r.status_code == 403
    backend.refresh_from_db()
    assert backend.auto_repair is False
