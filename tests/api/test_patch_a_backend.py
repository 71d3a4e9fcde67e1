"""PATCH backends/{id}/: 202 with the edit (or persist) job when the host changes, 200 when
only the database does, 400 naming the field, 409 while a job holds the backend or when the
area cannot take the change now, 403 below the admin role. A refusal changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models.functions import Now
from rest_framework.test import APIClient

from swapadmin.core import signing
from swapadmin.core.models import AuditEvent, Backend, Job

from .conftest import jobs_of

pytestmark = pytest.mark.django_db


def patch(client: APIClient, backend: Backend, body: Any) -> Any:
    return client.patch(f"/api/v1/backends/{backend.uuid}/", body, format="json")


def edits_audited(backend: Backend) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_uuid=backend.uuid, action="edit"))


def unchanged(backend: Backend, before: dict[str, Any]) -> None:
    backend.refresh_from_db()
    fields = ("label", "priority", "discard", "persist", "auto_repair")
    assert {f: getattr(backend, f) for f in fields} == before
    assert jobs_of(backend) == []


def snapshot(backend: Backend) -> dict[str, Any]:
    fields = ("label", "priority", "discard", "persist", "auto_repair")
    return {f: getattr(backend, f) for f in fields}


BAD = [
    ({"label": "seventeen-bytes-x"}, "label", "16 bytes"),
    ({"label": "été-été-été-"}, "label", "16 bytes"),  # 12 characters, 16+ bytes in UTF-8
    ({"label": 7}, "label", "string"),
    ({"priority": 32768}, "priority", "32767"),
    ({"priority": -2}, "priority", "-1"),
    ({"priority": "high"}, "priority", "whole number"),
    ({"discard": "sometimes"}, "discard", "discard"),
    ({"persist": "yes"}, "persist", "true or false"),
    ({"auto_repair": 1}, "auto_repair", "true or false"),
    ({"priority": 5, "apply": "later"}, "apply", "now, next_activation"),
    ({"name": "other"}, "name", "cannot be edited"),
    ({"size_bytes": 1 << 30, "label": "ok"}, "size_bytes", "cannot be edited"),
    ({}, "fields", "at least one"),
]


@pytest.mark.parametrize(("body", "field", "words"), BAD)
def test_bad_input_is_refused_naming_the_field(
    body: dict[str, Any],
    field: str,
    words: str,
    alice: User,
    backend: Backend,
    as_user: Callable[..., APIClient],
) -> None:
    before = snapshot(backend)
    r = patch(as_user(alice), backend, body)
    assert r.status_code == 400, r.content
    assert field in r.json(), r.json()
    assert words in " ".join(r.json()[field]), r.json()
    unchanged(backend, before)
    assert edits_audited(backend) == []


def test_a_body_that_is_not_an_object_is_refused(
    alice: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    r = patch(as_user(alice), backend, ["label", "x"])
    assert r.status_code == 400 and "fields" in r.json()


def test_auto_repair_is_saved_at_once_with_an_audit_event(
    alice: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    r = patch(as_user(alice), backend, {"auto_repair": True})
    assert r.status_code == 200, r.content
    assert r.json()["auto_repair"] is True
    backend.refresh_from_db()
    assert backend.auto_repair is True
    assert jobs_of(backend) == []
    (event,) = edits_audited(backend)
    assert event.outcome == "ok" and event.actor_name == "alice"
    assert event.detail["changes"] == {"auto_repair": [False, True]}


def test_a_label_queues_a_signed_edit_job_and_the_row_waits_for_the_worker(
    alice: User, make_backend: Callable[..., Backend], as_user: Callable[..., APIClient]
) -> None:
    backend = make_backend(label="old")
    r = patch(as_user(alice), backend, {"label": "new-label"})
    assert r.status_code == 202, r.content
    (job,) = jobs_of(backend)
    assert job.kind == Job.Kind.EDIT and job.params == {"label": "new-label"}
    assert r.json()["id"] == str(job.uuid)
    signed = json.loads(job.signed_spec)
    assert signed["job"] == {
        "uuid": str(job.uuid),
        "kind": "edit",
        "params": {"label": "new-label"},
    }
    backend.refresh_from_db()
    assert backend.label == "old"  # the header is the truth: the worker sets it once written
    (event,) = edits_audited(backend)
    assert event.outcome == "queued" and event.detail["job"] == str(job.uuid)
    assert event.detail["changes"] == {"label": ["old", "new-label"]}


def test_a_changed_edit_job_is_refused_by_the_signature(
    alice: User, make_backend: Callable[..., Backend], as_user: Callable[..., APIClient]
) -> None:
    backend = make_backend(label="old")
    assert patch(as_user(alice), backend, {"label": "signed"}).status_code == 202
    (job,) = jobs_of(backend)
    Job.objects.filter(pk=job.pk).update(params={"label": "forged"})
    job = Job.objects.select_related("host", "backend__host").get(pk=job.pk)
    db_now = Job.objects.annotate(now=Now()).values_list("now", flat=True)[0]
    with pytest.raises(signing.Unauthorised, match=r"job\.params\.label"):
        signing.verify(job, host_name=job.host.name, machine_id="", db_now=db_now)


def test_priority_of_an_inactive_area_is_recorded_without_a_job(
    alice: User, make_backend: Callable[..., Backend], as_user: Callable[..., APIClient]
) -> None:
    backend = make_backend(priority=3)
    r = patch(as_user(alice), backend, {"priority": 9, "apply": "now"})
    assert r.status_code == 200, r.content
    backend.refresh_from_db()
    assert backend.priority == 9 and jobs_of(backend) == []
    r = patch(as_user(alice), backend, {"priority": -1})
    assert r.status_code == 200 and r.json()["priority"] is None


def test_priority_applied_now_on_an_active_area_is_an_edit_job(
    alice: User, make_backend: Callable[..., Backend], as_user: Callable[..., APIClient]
) -> None:
    backend = make_backend(priority=3, observed_state=Backend.Observed.ACTIVE)
    r = patch(as_user(alice), backend, {"priority": 12, "apply": "now"})
    assert r.status_code == 202, r.content
    (job,) = jobs_of(backend)
    assert job.kind == Job.Kind.EDIT
    assert job.params == {"priority": 12, "discard": "", "apply": "now", "options": ["priority"]}


def test_priority_for_the_next_activation_of_an_active_area_needs_no_job(
    alice: User, make_backend: Callable[..., Backend], as_user: Callable[..., APIClient]
) -> None:
    backend = make_backend(priority=3, observed_state=Backend.Observed.ACTIVE)
    r = patch(as_user(alice), backend, {"priority": 12, "apply": "next_activation"})
    assert r.status_code == 200, r.content
    backend.refresh_from_db()
    assert backend.priority == 12 and jobs_of(backend) == []


def test_persist_alone_reuses_the_persist_job(
    alice: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    r = patch(as_user(alice), backend, {"persist": True})
    assert r.status_code == 202, r.content
    (job,) = jobs_of(backend)
    assert job.kind == Job.Kind.PERSIST and job.params == {"persist": True}


@pytest.mark.parametrize("persist", [True, False])
def test_persist_alone_queues_the_job_a_request_of_persist_would(
    alice: User,
    make_backend: Callable[..., Backend],
    as_user: Callable[..., APIClient],
    persist: bool,
) -> None:
    # One builder, the action table's entry, for both: the same kind, body and row. Each is
    # audited once, as what its user asked: an edit, a persist.
    client = as_user(alice)
    edited = make_backend("edited", persist=not persist)
    asked = make_backend("asked", persist=not persist)
    assert patch(client, edited, {"persist": persist}).status_code == 202
    r = client.post(f"/api/v1/backends/{asked.uuid}/persist/", {"persist": persist}, "json")
    assert r.status_code == 202, r.content
    (by_edit,) = jobs_of(edited)
    (by_request,) = jobs_of(asked)
    assert (by_edit.kind, by_edit.params) == (by_request.kind, by_request.params)
    assert by_edit.params == {"persist": persist}
    db_now = Job.objects.annotate(now=Now()).values_list("now", flat=True)[0]
    for job in Job.objects.select_related("host", "backend__host").filter(
        backend__host=edited.host
    ):
        signing.verify(job, host_name=job.host.name, machine_id="", db_now=db_now)  # signed
    edited.refresh_from_db()
    asked.refresh_from_db()
    assert edited.persist is asked.persist is persist
    assert edited.desired_state == asked.desired_state
    assert [e.action for e in AuditEvent.objects.filter(object_uuid=edited.uuid)] == ["edit"]
    assert [e.action for e in AuditEvent.objects.filter(object_uuid=asked.uuid)] == ["persist"]


@pytest.mark.parametrize(
    ("kind", "params"),
    [("zram", {}), ("loop", {"path": "/var/tmp/x.swap"}), ("not-installed-here", {})],
)
def test_persist_is_refused_for_a_kind_no_fstab_line_brings_back(
    alice: User,
    make_backend: Callable[..., Backend],
    as_user: Callable[..., APIClient],
    kind: str,
    params: dict[str, str],
) -> None:
    # The kind's plugin says (SwapBackend.persistable); a kind this control plane has not
    # installed cannot say, so it is refused too.
    backend = make_backend(kind=kind, params=params)
    client = as_user(alice)
    r = patch(client, backend, {"persist": True})
    said = "not installed here" if kind == "not-installed-here" else "cannot be kept in the fstab"
    assert r.status_code == 400 and said in r.json()["persist"][0]
    (event,) = edits_audited(backend)
    assert event.outcome == "refused" and event.detail["field"] == "persist"
    assert event.detail["reason"] == r.json()["persist"][0]
    # The persist action says the same, before any job, whichever way it is asked: the
    # worker could spell no line to add, nor find one to remove.
    url = f"/api/v1/backends/{backend.uuid}/persist/"
    for persist in (True, False):
        r = client.post(url, {"persist": persist}, format="json")
        assert r.status_code == 400 and said in r.json()["kind"][0]
    backend.refresh_from_db()
    assert not backend.persist and jobs_of(backend) == []


@pytest.mark.parametrize("kind", ["zram", "loop", "not-installed-here"])
def test_persist_turned_off_on_a_kind_no_fstab_line_names_is_the_rows_alone(
    alice: User, make_backend: Callable[..., Backend], as_user: Callable[..., APIClient], kind: str
) -> None:
    # A row set to persist before that was refused: the health check says "turn persist
    # off", and turning it off needs no job (no line the worker can spell to remove) and
    # fails none. A kind this control plane has not installed is refused a persist so too.
    backend = make_backend(kind=kind, params={"path": "/var/tmp/x.swap"}, persist=True)
    r = patch(as_user(alice), backend, {"persist": False})
    assert r.status_code == 200, r.content
    backend.refresh_from_db()
    assert not backend.persist and jobs_of(backend) == []
    (event,) = edits_audited(backend)
    assert event.outcome == "ok" and event.detail["changes"] == {"persist": [True, False]}


def test_a_label_on_an_active_area_is_refused_with_409(
    alice: User, make_backend: Callable[..., Backend], as_user: Callable[..., APIClient]
) -> None:
    backend = make_backend(observed_state=Backend.Observed.ACTIVE)
    before = snapshot(backend)
    r = patch(as_user(alice), backend, {"label": "x"})
    assert r.status_code == 409, r.content
    assert "Deactivate it first" in r.json()["detail"]
    unchanged(backend, before)
    (event,) = edits_audited(backend)
    assert event.outcome == "refused"


def test_a_label_on_an_adopted_area_is_refused(
    alice: User, make_backend: Callable[..., Backend], as_user: Callable[..., APIClient]
) -> None:
    backend = make_backend(adopted=True)
    before = snapshot(backend)
    r = patch(as_user(alice), backend, {"label": "x"})
    assert r.status_code == 400 and "adopted" in r.json()["label"][0]
    unchanged(backend, before)
    # Refused by what the backend is, not by the body's form: audited, as a request's
    # refusal of an adopted area is (bad input is not: see the first test).
    (event,) = edits_audited(backend)
    assert event.outcome == "refused" and event.detail["field"] == "label"
    assert event.detail["reason"] == r.json()["label"][0]


@pytest.mark.parametrize(
    ("fields", "body", "field"),
    [
        ({"adopted": True}, {"label": "x"}, "label"),
        ({"kind": "zram", "params": {}}, {"persist": True}, "persist"),
    ],
    ids=["adopted-label", "zram-persist"],
)
def test_what_no_provision_would_mend_is_said_before_never_provisioned(
    alice: User,
    make_backend: Callable[..., Backend],
    as_user: Callable[..., APIClient],
    fields: dict[str, Any],
    body: dict[str, Any],
    field: str,
) -> None:
    # As a request says it: "provision it first" would be no way out of these.
    backend = make_backend(provisioned_at=None, **fields)
    before = snapshot(backend)
    r = patch(as_user(alice), backend, body)
    assert r.status_code == 400 and field in r.json(), r.content
    unchanged(backend, before)
    (event,) = edits_audited(backend)
    assert event.outcome == "refused" and event.detail["field"] == field


def test_a_persist_its_kind_cannot_do_is_said_before_deactivate_first(
    alice: User, make_backend: Callable[..., Backend], as_user: Callable[..., APIClient]
) -> None:
    # "Deactivate it first" (the label of an active area) would not let a zram area persist.
    backend = make_backend(kind="zram", params={}, observed_state=Backend.Observed.ACTIVE)
    before = snapshot(backend)
    r = patch(as_user(alice), backend, {"label": "x", "persist": True})
    assert r.status_code == 400 and "cannot be kept in the fstab" in r.json()["persist"][0]
    unchanged(backend, before)
    (event,) = edits_audited(backend)
    assert event.outcome == "refused" and event.detail["field"] == "persist"


def test_an_edit_while_a_job_holds_the_backend_is_409(
    alice: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    client = as_user(alice)
    holder = client.post(f"/api/v1/backends/{backend.uuid}/scan/", {}, format="json").json()
    before = snapshot(backend)
    r = patch(client, backend, {"label": "busy", "persist": True})
    assert r.status_code == 409, r.content
    assert r.json()["job"]["id"] == holder["id"]
    backend.refresh_from_db()
    assert snapshot(backend) == before
    assert [j.kind for j in jobs_of(backend)] == ["scan"]


def test_the_same_values_change_nothing(
    alice: User, make_backend: Callable[..., Backend], as_user: Callable[..., APIClient]
) -> None:
    backend = make_backend(label="same", priority=4)
    r = patch(as_user(alice), backend, {"label": "same", "priority": 4})
    assert r.status_code == 200 and jobs_of(backend) == [] and edits_audited(backend) == []


@pytest.mark.parametrize("who", ["oscar", "victor", "nora"])
def test_only_an_admin_edits(
    who: str,
    people: dict[str, User | None],
    backend: Backend,
    as_user: Callable[..., APIClient],
) -> None:
    r = patch(as_user(people[who]), backend, {"auto_repair": True})
    assert r.status_code == 403
    backend.refresh_from_db()
    assert backend.auto_repair is False


def test_a_backend_never_provisioned_takes_only_database_changes(
    alice: User, make_backend: Callable[..., Backend], as_user: Callable[..., APIClient]
) -> None:
    backend = make_backend(provisioned_at=None)
    r = patch(as_user(alice), backend, {"label": "x"})
    assert r.status_code == 409 and r.json()["job"] is None
    assert "never provisioned" in r.json()["detail"]
    assert jobs_of(backend) == []
    assert patch(as_user(alice), backend, {"auto_repair": True}).status_code == 200
