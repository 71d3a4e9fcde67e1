from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core.models import AuditEvent, Backend, Job

from .conftest import HTMX


def url(b: Backend, action: str) -> str:
    return reverse("backend-action", args=[b.uuid, action])


@pytest.mark.parametrize("action", ["activate", "scan", "benchmark", "check"])
def test_an_operator_queues_an_action(
    as_user: Any, oscar: User, backend: Backend, action: str
) -> None:
    r = as_user(oscar).post(url(backend, action), headers=HTMX)
    assert r.status_code == 200
    job = Job.objects.get(backend=backend)
    assert job.kind == action and job.state == "queued" and job.via == "page"
    assert job.requested_by == oscar
    assert "swap1: queued" in r.content.decode()
    assert r["HX-Trigger"] == "swapadmin:changed"


def test_activate_sets_the_desired_state(as_user: Any, oscar: User, backend: Backend) -> None:
    as_user(oscar).post(url(backend, "activate"), headers=HTMX)
    backend.refresh_from_db()
    assert backend.desired_state == "active"


@pytest.mark.parametrize("action", ["activate", "scan", "destroy", "resize"])
def test_a_viewer_is_refused(as_user: Any, victor: User, backend: Backend, action: str) -> None:
    r = as_user(victor).post(url(backend, action), headers=HTMX)
    assert r.status_code == 403
    assert not Job.objects.exists()
    assert AuditEvent.objects.get(action=action).outcome == "refused"


@pytest.mark.parametrize("action", ["destroy", "resize", "persist"])
def test_an_operator_is_refused_admin_actions(
    as_user: Any, oscar: User, backend: Backend, action: str
) -> None:
    assert as_user(oscar).post(url(backend, action)).status_code == 403
    assert not Job.objects.exists()


def test_it_says_busy_naming_the_job(as_user: Any, oscar: User, running_job: Job) -> None:
    assert running_job.backend is not None
    r = as_user(oscar).post(url(running_job.backend, "activate"), headers=HTMX)
    assert r.status_code == 409
    assert f"busy: scan job {running_job.uuid} is running" in r.content.decode()
    assert Job.objects.count() == 1


def test_without_htmx_it_redirects_back(as_user: Any, oscar: User, backend: Backend) -> None:
    back = reverse("host", args=[backend.host.uuid])
    r = as_user(oscar).post(url(backend, "scan"), {"next": back})
    assert r.status_code == 302 and r["Location"] == back
    r = as_user(oscar).post(url(backend, "scan"), {"next": "https://evil.example/"})
    assert r["Location"] == reverse("backend", args=[backend.uuid])


def test_destroy_by_an_admin(as_user: Any, alice: User, backend: Backend) -> None:
    r = as_user(alice).post(url(backend, "destroy"))
    assert r.status_code == 302
    assert r["Location"] == reverse("host", args=[backend.host.uuid])
    job = Job.objects.get(backend=backend)
    assert job.kind == "destroy" and job.params == {"force": False}


def test_force_needs_the_name_typed(as_user: Any, alice: User, backend: Backend) -> None:
    r = as_user(alice).post(url(backend, "destroy"), {"force": "on", "confirm": "swap"})
    assert r.status_code == 422
    body = r.content.decode()
    assert 'id="id_confirm_error"' in body and "typed exactly" in body
    assert not Job.objects.exists()
    r = as_user(alice).post(url(backend, "destroy"), {"force": "on", "confirm": "swap1"})
    assert r.status_code == 302
    assert Job.objects.get(backend=backend).params == {"force": True}


def test_resize(as_user: Any, alice: User, backend: Backend) -> None:
    r = as_user(alice).post(url(backend, "resize"), {"size_mib": "512"}, headers=HTMX)
    assert r.status_code == 200
    assert Job.objects.get(kind="resize").params == {"size_bytes": 512 << 20}
    bad = as_user(alice).post(url(backend, "resize"), {"size_mib": "0"}, headers=HTMX)
    assert bad.status_code == 422


@pytest.mark.parametrize(("sent", "persist"), [("true", True), ("false", False), (None, False)])
def test_persist_and_unpersist(
    as_user: Any, alice: User, backend: Backend, sent: str | None, persist: bool
) -> None:
    Backend.objects.filter(pk=backend.pk).update(persist=not persist)
    data = {} if sent is None else {"persist": sent}
    assert as_user(alice).post(url(backend, "persist"), data, headers=HTMX).status_code == 200
    assert Job.objects.get(kind="persist").params == {"persist": persist}
    backend.refresh_from_db()
    assert backend.persist is persist


@pytest.mark.parametrize(("sent", "params"), [("7", {"priority": 7}), ("", {}), (None, {})])
def test_activate_at_a_priority_or_the_backends_own(
    as_user: Any, oscar: User, backend: Backend, sent: str | None, params: dict[str, int]
) -> None:
    data = {} if sent is None else {"priority": sent}
    assert as_user(oscar).post(url(backend, "activate"), data, headers=HTMX).status_code == 200
    assert Job.objects.get(kind="activate").params == params


@pytest.mark.parametrize("sent", ["seven", " ", "-2", "40000"])
def test_a_bad_priority_is_refused_in_the_services_words(
    as_user: Any, oscar: User, backend: Backend, sent: str
) -> None:
    r = as_user(oscar).post(url(backend, "activate"), {"priority": sent}, headers=HTMX)
    assert r.status_code == 422
    assert "priority" in r.content.decode()
    assert not Job.objects.exists()


def test_an_unknown_action_is_not_found(as_user: Any, alice: User, backend: Backend) -> None:
    assert as_user(alice).post(url(backend, "format-disk")).status_code == 404
