"""POST /api/v1/backends/: validated by the services, answered 202 with the provision job;
bad input is a 400 naming the field, and leaves no row, no job and no file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from swapadmin.core.models import AuditEvent, Backend, Host, Job

from .conftest import PAGE


@pytest.fixture
def body(host_row: Host, swap_root: Path) -> dict[str, Any]:
    return {
        "host": str(host_row.uuid),
        "kind": "file",
        "name": "swap0",
        "size_bytes": 64 * PAGE,
        "priority": 5,
        "discard": "pages",
        "label": "api-made",
        "auto_repair": True,
        "params": {"path": str(swap_root / "swap0")},
    }


def test_it_queues_the_provision_job(
    alice: User, body: dict[str, Any], swap_root: Path, as_user: Callable[..., APIClient]
) -> None:
    r = as_user(alice).post("/api/v1/backends/", body, format="json")
    assert r.status_code == 202, r.content
    job = Job.objects.get(uuid=r.json()["id"])
    assert r.json()["state"] == "queued"
    assert r.json()["kind"] == "provision"
    assert r.json()["url"].endswith(f"/api/v1/jobs/{job.uuid}/")
    assert r["Location"] == r.json()["url"]
    backend = Backend.objects.get(name="swap0")
    assert r.json()["backend"] == str(backend.uuid)
    assert (backend.size_bytes, backend.priority, backend.discard, backend.label) == (
        64 * PAGE, 5, "pages", "api-made",
    )  # fmt: skip
    assert backend.params == {"path": str(swap_root / "swap0")}
    assert backend.auto_repair is True
    event = AuditEvent.objects.get(action="create")
    assert (event.actor_name, event.via, event.outcome) == ("alice", "api", "queued")
    assert event.object_uuid == backend.uuid
    # The web side only records: the file is the worker's business.
    assert not (swap_root / "swap0").exists()

    followed = as_user(alice).get(r.json()["url"])
    assert followed.status_code == 200
    assert followed.json()["id"] == str(job.uuid)


def bad(field: str, value: Any) -> tuple[str, Any]:
    return field, value


@pytest.mark.parametrize(
    ("change", "where", "needle"),
    [
        ({"params": {"path": "/etc/swap0"}}, ("params", "path"), "outside the swap roots"),
        ({"params": {"path": "relative/swap"}}, ("params", "path"), "not an absolute path"),
        ({"params": {}}, ("params", "path"), "required"),
        ({"params": {"path": "/x", "colour": "red"}}, ("params", "colour"), "no parameter"),
        ({"params": "nope"}, ("params",), "dictionary"),
        ({"kind": "tape"}, ("kind",), "unknown backend kind"),
        ({"name": "../etc"}, ("name",), "a name is"),
        ({"size_bytes": 12345}, ("size_bytes",), "multiple of the page size"),
        ({"size_bytes": None}, ("size_bytes",), "needs a size"),
        ({"size_bytes": 2**70}, ("size_bytes",), "less than or equal"),
        ({"priority": 40000}, ("priority",), "less than or equal"),
        ({"discard": "always"}, ("discard",), "not a valid choice"),
        ({"label": "x" * 17}, ("label",), "no more than 16"),
        ({"label": "é" * 9}, ("label",), "16 bytes"),
        ({"host": "00000000-0000-0000-0000-000000000000"}, ("host",), "no host"),
        ({"host": "testhost"}, ("host",), "valid UUID"),
        ({"force": True, "confirm": "swap1"}, ("confirm",), "typed exactly"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(
    change: dict[str, Any],
    where: tuple[str, ...],
    needle: str,
    alice: User,
    body: dict[str, Any],
    swap_root: Path,
    as_user: Callable[..., APIClient],
) -> None:
    r = as_user(alice).post("/api/v1/backends/", {**body, **change}, format="json")
    assert r.status_code == 400, r.content
    messages: Any = r.json()
    for key in where:
        messages = messages[key]
    assert any(needle in m for m in messages), messages
    assert not Backend.objects.exists()
    assert not Job.objects.exists()
    assert not AuditEvent.objects.exists()
    assert list(swap_root.iterdir()) == []


def test_a_taken_name_is_refused(
    alice: User, body: dict[str, Any], make_backend: Any, as_user: Callable[..., APIClient]
) -> None:
    make_backend("swap0")
    r = as_user(alice).post("/api/v1/backends/", body, format="json")
    assert r.status_code == 400
    assert "already has a backend named 'swap0'" in r.json()["name"][0]
    assert Backend.objects.count() == 1


def test_force_with_the_name_typed_is_accepted(
    alice: User, body: dict[str, Any], as_user: Callable[..., APIClient]
) -> None:
    r = as_user(alice).post(
        "/api/v1/backends/", {**body, "force": True, "confirm": "swap0"}, format="json"
    )
    assert r.status_code == 202, r.content
    assert r.json()["params"] == {"force": True}


def test_it_requires_the_admin_role(
    oscar: User, body: dict[str, Any], as_user: Callable[..., APIClient]
) -> None:
    r = as_user(oscar).post("/api/v1/backends/", body, format="json")
    assert r.status_code == 403
    assert r.json()["detail"] == "create needs the admin role"
    assert not Backend.objects.exists()
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.actor_name) == ("create", "refused", "oscar")


def test_it_takes_json_only(alice: User, body: dict[str, Any], as_user: Any) -> None:
    r = as_user(alice).post("/api/v1/backends/", {"kind": "file"}, format="multipart")
    assert r.status_code == 415
    assert not Backend.objects.exists()


def test_a_kind_no_fstab_line_brings_back_is_not_created_to_persist(
    alice: User, body: dict[str, Any], swap_root: Path, as_user: Callable[..., APIClient]
) -> None:
    loop = {**body, "kind": "loop", "persist": True}
    r = as_user(alice).post("/api/v1/backends/", loop, format="json")
    assert r.status_code == 400 and "cannot be kept in the fstab" in str(r.json()), r.content
    assert not Backend.objects.exists() and not Job.objects.exists()
    # A file is.
    r = as_user(alice).post("/api/v1/backends/", {**body, "persist": True}, format="json")
    assert r.status_code == 202, r.content
    assert Backend.objects.get(name="swap0").persist is True
