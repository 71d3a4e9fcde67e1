"""POST backends/{id}/<action>/ and DELETE backends/{id}/: 202 with the job, 409 with the
job that holds the backend, 400 naming the field, 404 for a missing backend."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from swapadmin.core import services
from swapadmin.core.models import AuditEvent, Backend, Job

from .conftest import PAGE, jobs_of

ACTIONS = [
    ("activate", "activate", {"priority": 7}),
    ("deactivate", "deactivate", {}),
    ("scan", "scan", {"patterns": 2}),
    ("benchmark", "benchmark", {"seconds": 3}),
    ("burn-in", "burn_in", {"seconds": 5}),
    ("resize", "resize", {"size_bytes": 128 * PAGE}),
    ("persist", "persist", {"persist": False}),
    ("check", "check", {}),
]


@pytest.mark.parametrize(("url", "kind", "body"), ACTIONS)
def test_each_action_queues_its_job(
    url: str,
    kind: str,
    body: dict[str, Any],
    alice: User,
    backend: Backend,
    as_user: Callable[..., APIClient],
) -> None:
    Backend.objects.filter(pk=backend.pk).update(persist=True)  # the persist asks False
    before = {"priority": backend.priority, "persist": True}
    r = as_user(alice).post(f"/api/v1/backends/{backend.uuid}/{url}/", body, format="json")
    assert r.status_code == 202, r.content
    assert r.json()["kind"] == kind
    assert r.json()["state"] == "queued"
    assert r.json()["backend"] == str(backend.uuid)
    [job] = jobs_of(backend)
    assert r.json()["id"] == str(job.uuid)
    for key, value in body.items():
        assert job.params[key] == value
    assert AuditEvent.objects.get(action=kind).detail["job"] == str(job.uuid)
    # An activate's priority and a persist's choice become the backend's own; nothing
    # else an action is given is written to the row.
    backend.refresh_from_db()
    assert {"priority": backend.priority, "persist": backend.persist} == {
        **before,
        **KEPT.get(kind, {}),
    }


KEPT = {"activate": {"priority": 7}, "persist": {"persist": False}}


def test_a_scheduled_check_is_not_audited_and_a_persons_is(alice: User, backend: Backend) -> None:
    services.request_action(backend, "check", services.Actor.schedule())
    assert not AuditEvent.objects.exists()
    Job.objects.update(state="succeeded")
    services.request_action(backend, "check", services.Actor(alice, Job.Via.API))
    assert AuditEvent.objects.get().action == "check"


def test_activate_and_deactivate_set_the_desired_state(
    oscar: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    client = as_user(oscar)
    assert client.post(f"/api/v1/backends/{backend.uuid}/activate/").status_code == 202
    backend.refresh_from_db()
    assert backend.desired_state == "active"
    Job.objects.update(state="succeeded")
    assert client.post(f"/api/v1/backends/{backend.uuid}/deactivate/").status_code == 202
    backend.refresh_from_db()
    assert backend.desired_state == "inactive"


def test_a_busy_backend_answers_409_with_the_holding_job(
    oscar: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    client = as_user(oscar)
    first = client.post(f"/api/v1/backends/{backend.uuid}/scan/", {}, format="json")
    assert first.status_code == 202
    r = client.post(f"/api/v1/backends/{backend.uuid}/activate/", {}, format="json")
    assert r.status_code == 409
    assert r.json()["job"]["id"] == first.json()["id"]
    assert r.json()["job"]["kind"] == "scan"
    assert "is busy" in r.json()["detail"]
    assert len(jobs_of(backend)) == 1
    refused = AuditEvent.objects.get(action="activate")
    assert refused.outcome == "refused"
    assert refused.detail["busy_with"] == first.json()["id"]


def test_check_runs_beside_a_busy_backend(
    oscar: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    client = as_user(oscar)
    assert client.post(f"/api/v1/backends/{backend.uuid}/scan/").status_code == 202
    assert client.post(f"/api/v1/backends/{backend.uuid}/check/").status_code == 202


@pytest.mark.parametrize(
    ("url", "body", "field", "needle"),
    [
        ("resize", {"size_bytes": 12345}, "size_bytes", "multiple of the page size"),
        ("resize", {}, "size_bytes", "required"),
        ("scan", {"patterns": 9}, "patterns", "less than or equal to 4"),
        ("burn-in", {"hog_bytes": 1}, "hog_bytes", "greater than or equal"),
        ("activate", {"priority": -1}, "priority", "greater than or equal"),
        ("persist", {"persist": "maybe"}, "persist", "valid boolean"),
        ("deactivate", {"force": True, "confirm": "nope"}, "confirm", "typed exactly"),
    ],
)
def test_bad_action_input_names_the_field(
    url: str,
    body: dict[str, Any],
    field: str,
    needle: str,
    alice: User,
    backend: Backend,
    as_user: Callable[..., APIClient],
) -> None:
    r = as_user(alice).post(f"/api/v1/backends/{backend.uuid}/{url}/", body, format="json")
    assert r.status_code == 400, r.content
    assert any(needle in m for m in r.json()[field]), r.json()
    assert jobs_of(backend) == []
    assert not AuditEvent.objects.exists()


def test_force_needs_the_admin_role(
    oscar: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    body = {"force": True, "confirm": backend.name}
    r = as_user(oscar).post(f"/api/v1/backends/{backend.uuid}/deactivate/", body, format="json")
    assert r.status_code == 403
    assert r.json()["detail"] == "force needs the admin role"
    assert jobs_of(backend) == []
    assert AuditEvent.objects.get().action == "force"


@pytest.mark.parametrize(
    ("method", "path"),
    # A DELETE's body too, when its query names none of the body's fields.
    [("post", "deactivate/"), ("delete", "?unrelated=1")],
)
def test_admin_may_force_with_the_name_typed(
    method: str, path: str, alice: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    body = {"force": True, "confirm": backend.name}
    ask = getattr(as_user(alice), method)
    r = ask(f"/api/v1/backends/{backend.uuid}/{path}", body, format="json")
    assert r.status_code == 202
    assert r.json()["params"] == {"force": True}


def test_delete_queues_destroy(
    alice: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    r = as_user(alice).delete(f"/api/v1/backends/{backend.uuid}/")
    assert r.status_code == 202
    assert r.json()["kind"] == "destroy"
    backend.refresh_from_db()  # the row stays until the worker has removed the store
    assert backend.desired_state == "absent"


def test_delete_takes_force_in_the_query(
    alice: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    client = as_user(alice)
    r = client.delete(f"/api/v1/backends/{backend.uuid}/?force=true&confirm=wrong")
    assert r.status_code == 400
    assert "confirm" in r.json()
    r = client.delete(f"/api/v1/backends/{backend.uuid}/?force=true&confirm={backend.name}")
    assert r.status_code == 202
    assert r.json()["params"] == {"force": True}


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("?confirm={name}", {"force": True}),
        ("?confirm={name}", {"force": True, "confirm": "{name}"}),
        ("?force=true", {"confirm": "{name}"}),
    ],
)
def test_delete_refuses_force_and_confirm_split_between_query_and_body(
    query: str,
    body: dict[str, Any],
    alice: User,
    backend: Backend,
    as_user: Callable[..., APIClient],
) -> None:
    # Read from one place only, a force in the body beside a confirm in the query was a
    # plain destroy, queued without a word about the force asked.
    sent = {k: v.format(name=backend.name) if isinstance(v, str) else v for k, v in body.items()}
    url = f"/api/v1/backends/{backend.uuid}/{query.format(name=backend.name)}"
    r = as_user(alice).delete(url, sent, format="json")
    assert r.status_code == 400
    assert r.json() == {"fields": ["give confirm and force in the query or in the body, not both"]}
    assert not Job.objects.exists()
    backend.refresh_from_db()
    assert backend.desired_state != "absent"


@pytest.mark.parametrize("url", [u for u, _, _ in ACTIONS])
def test_a_missing_backend_is_404(
    url: str, alice: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    r = as_user(alice).post(f"/api/v1/backends/{uuid.uuid4()}/{url}/", {}, format="json")
    assert r.status_code == 404
    assert not Job.objects.exists()


def test_a_malformed_id_is_404(alice: User, as_user: Callable[..., APIClient]) -> None:
    assert as_user(alice).get("/api/v1/backends/not-a-uuid/").status_code == 404
    assert as_user(alice).delete("/api/v1/backends/not-a-uuid/").status_code == 404


def test_lists_filter_and_order(
    victor: User, make_backend: Any, as_user: Callable[..., APIClient]
) -> None:
    make_backend("b1", observed_state="active", desired_state="active", size_bytes=32 * PAGE)
    make_backend("b2", size_bytes=16 * PAGE)
    client = as_user(victor)
    r = client.get("/api/v1/backends/?observed_state=active")
    assert [b["name"] for b in r.json()["results"]] == ["b1"]
    r = client.get("/api/v1/backends/?ordering=size_bytes")
    assert [b["name"] for b in r.json()["results"]] == ["b2", "b1"]
    r = client.get("/api/v1/backends/?limit=1&offset=1&ordering=-size_bytes")
    assert r.json()["count"] == 2
    assert [b["name"] for b in r.json()["results"]] == ["b2"]
    host = Backend.objects.get(name="b1").host
    r = client.get(f"/api/v1/backends/?host={host.uuid}&kind=file&desired_state=active")
    assert [b["name"] for b in r.json()["results"]] == ["b1"]
    assert client.get(f"/api/v1/backends/?host={uuid.uuid4()}").json()["count"] == 0
    assert client.get("/api/v1/backends/?observed_state=bogus").status_code == 400


def test_resize_of_an_adopted_area_is_refused(
    alice: User, make_backend: Callable[..., Backend], as_user: Callable[..., APIClient]
) -> None:
    adopted = make_backend(
        "zram0", kind="zram", params={}, state={"device": "/dev/zram0"}, adopted=True
    )
    r = as_user(alice).post(
        f"/api/v1/backends/{adopted.uuid}/resize/", {"size_bytes": 128 * PAGE}, format="json"
    )
    assert r.status_code == 400, r.content
    [message] = r.json()["kind"]
    assert "was adopted, not made by swapadmin: a resize truncates or resets it" in message
    assert jobs_of(adopted) == []


@pytest.mark.parametrize("action", ["scan", "benchmark"])
def test_scan_and_benchmark_of_an_adopted_area_are_refused(
    action: str,
    alice: User,
    make_backend: Callable[..., Backend],
    as_user: Callable[..., APIClient],
) -> None:
    adopted = make_backend(
        "zram0", kind="zram", params={}, state={"device": "/dev/zram0"}, adopted=True
    )
    r = as_user(alice).post(f"/api/v1/backends/{adopted.uuid}/{action}/", {}, format="json")
    assert r.status_code == 400, r.content
    [message] = r.json()["kind"]
    assert "was adopted, not made by swapadmin" in message and "Destroy (release)" in message
    assert jobs_of(adopted) == []


def test_a_burn_in_of_an_adopted_area_is_queued(
    alice: User, make_backend: Callable[..., Backend], as_user: Callable[..., APIClient]
) -> None:
    # The kernel writes the area, as swap: what adopting it is for.
    adopted = make_backend(
        "zram0", kind="zram", params={}, state={"device": "/dev/zram0"}, adopted=True
    )
    r = as_user(alice).post(f"/api/v1/backends/{adopted.uuid}/burn-in/", {}, format="json")
    assert r.status_code == 202, r.content
