"""Every endpoint with every persona: 401 anonymous, 403 below the role, 200/202 at or above.

A refused change is audited with who, what and from where; a refused read is not.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from swapadmin.core.models import AuditEvent, Backend, Host, Job
from swapadmin.health.models import BackendHealth, HealthEvent

from .conftest import PAGE

PERSONAS = ["anonymous", "nora", "victor", "oscar", "alice"]
RANK = {p: i for i, p in enumerate(PERSONAS)}
LEAST = {"viewer": "victor", "operator": "oscar", "admin": "alice"}

READS = [
    "/api/v1/hosts/",
    "/api/v1/hosts/{host}/",
    "/api/v1/backends/",
    "/api/v1/backends/{backend}/",
    "/api/v1/jobs/",
    "/api/v1/jobs/{job}/",
    "/api/v1/audit/",
    "/api/v1/audit/{event}/",
    "/api/v1/plugins/",
    "/api/v1/plugins/file/",
    "/api/v1/health/",
    "/api/v1/health/{backend}/",
    "/api/v1/health-events/",
    "/api/v1/health-events/{health_event}/",
]

# (method, url, body, least role, success status, audited action)
CHANGES: list[tuple[str, str, dict[str, Any], str, int, str]] = [
    ("post", "/api/v1/hosts/{host}/discover/", {}, "admin", 202, "discover"),
    ("post", "/api/v1/hosts/{host}/tune/", {"swappiness": 10}, "admin", 202, "tune"),
    ("post", "/api/v1/backends/", {"new": True}, "admin", 202, "create"),
    ("delete", "/api/v1/backends/{backend}/", {}, "admin", 202, "destroy"),
    ("post", "/api/v1/backends/{backend}/provision/", {}, "admin", 202, "provision"),
    ("post", "/api/v1/backends/{backend}/activate/", {}, "operator", 202, "activate"),
    ("post", "/api/v1/backends/{backend}/deactivate/", {}, "operator", 202, "deactivate"),
    ("post", "/api/v1/backends/{backend}/scan/", {}, "operator", 202, "scan"),
    ("post", "/api/v1/backends/{backend}/benchmark/", {}, "operator", 202, "benchmark"),
    ("post", "/api/v1/backends/{backend}/burn-in/", {}, "operator", 202, "burn_in"),
    ("post", "/api/v1/backends/{backend}/check/", {}, "operator", 202, "check"),
    ("post", "/api/v1/backends/{backend}/resize/", {"size_bytes": 128 * PAGE}, "admin", 202,
     "resize"),
    ("post", "/api/v1/backends/{backend}/persist/", {"persist": True}, "admin", 202, "persist"),
    ("post", "/api/v1/jobs/{job}/cancel/", {}, "operator", 200, "cancel"),
]  # fmt: skip


@pytest.fixture
def objects(
    people: dict[str, User | None], host_row: Host, backend: Backend, make_backend: Any
) -> dict[str, Any]:
    other = make_backend("held")
    job = Job.objects.create(kind="scan", host=host_row, backend=other, backend_name=other.name)
    event = AuditEvent.objects.create(
        actor_name="schedule", via="schedule", action="sample", object_repr="x", outcome="ok"
    )
    BackendHealth.objects.create(backend=backend, status="ok")
    change = HealthEvent.objects.create(
        kind="status", host=host_row, backend=backend, from_status="unknown", to_status="ok"
    )
    return {"host": host_row.uuid, "backend": backend.uuid, "job": job.uuid,
            "event": event.uuid, "health_event": change.uuid}  # fmt: skip


def body_for(body: dict[str, Any], host_row: Host, swap_root: Path) -> dict[str, Any]:
    if body.get("new"):
        return {"host": str(host_row.uuid), "kind": "file", "name": "new0",
                "size_bytes": 64 * PAGE, "params": {"path": str(swap_root / "new0")}}  # fmt: skip
    return body


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("url", READS)
def test_reads_need_the_viewer_role(
    url: str,
    persona: str,
    people: dict[str, User | None],
    objects: dict[str, Any],
    as_user: Callable[[User | None], APIClient],
) -> None:
    r = as_user(people[persona]).get(url.format(**objects))
    if persona == "anonymous":
        assert r.status_code == 401
        assert r["WWW-Authenticate"] == "Token"
    elif persona == "nora":
        assert r.status_code == 403
    else:
        assert r.status_code == 200, r.content
    assert not AuditEvent.objects.filter(outcome="refused").exists()


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "url", "body", "least", "ok", "action"), CHANGES)
def test_changes_need_their_role(
    method: str,
    url: str,
    body: dict[str, Any],
    least: str,
    ok: int,
    action: str,
    persona: str,
    people: dict[str, User | None],
    objects: dict[str, Any],
    host_row: Host,
    swap_root: Path,
    as_user: Callable[[User | None], APIClient],
) -> None:
    jobs_before = Job.objects.count()
    client = as_user(people[persona])
    r = getattr(client, method)(
        url.format(**objects), body_for(body, host_row, swap_root), format="json"
    )
    if persona == "anonymous":
        assert r.status_code == 401
        assert r["WWW-Authenticate"] == "Token"
        assert not AuditEvent.objects.filter(action=action).exists()
    elif RANK[persona] < RANK[LEAST[least]]:
        assert r.status_code == 403, r.content
        assert least in r.json()["detail"] or "viewer" in r.json()["detail"]
        refused = AuditEvent.objects.get(action=action, outcome="refused")
        assert refused.actor_name == persona
        assert refused.via == "api"
        assert refused.source_ip == "192.0.2.7"
        assert Job.objects.count() == jobs_before
    else:
        assert r.status_code == ok, r.content
        assert r.json()["id"]
        done = AuditEvent.objects.get(action=action, actor_name=persona)
        assert done.outcome in ("queued", "ok")
        assert done.via == "api"
        assert done.source_ip == "192.0.2.7"
