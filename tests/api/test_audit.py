"""audit/: every change made over the API is in the trail, readable and filterable."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from swapadmin.core.models import Backend


def test_changes_and_refusals_are_in_the_trail(
    alice: User, oscar: User, victor: User, backend: Backend, as_user: Callable[..., APIClient]
) -> None:
    as_user(oscar).post(f"/api/v1/backends/{backend.uuid}/scan/")
    as_user(oscar).post(f"/api/v1/backends/{backend.uuid}/resize/", {"size_bytes": 1 << 20})
    as_user(victor).post(f"/api/v1/backends/{backend.uuid}/activate/")

    client = as_user(alice)
    rows = client.get("/api/v1/audit/?ordering=at").json()["results"]
    assert [(r["actor"], r["action"], r["outcome"]) for r in rows] == [
        ("oscar", "scan", "queued"),
        ("oscar", "resize", "refused"),
        ("victor", "activate", "refused"),
    ]
    assert all(r["source_ip"] == "192.0.2.7" and r["via"] == "api" for r in rows)
    assert rows[0]["object_id"] == str(backend.uuid)
    assert rows[0]["host"] == str(backend.host.uuid)
    assert rows[1]["detail"]["reason"] == "needs the admin role"

    assert client.get("/api/v1/audit/?actor=victor").json()["count"] == 1
    assert client.get("/api/v1/audit/?action=scan").json()["count"] == 1
    assert client.get("/api/v1/audit/?outcome=refused").json()["count"] == 2
    one = client.get(f"/api/v1/audit/{rows[0]['id']}/")
    assert one.json()["action"] == "scan"


def test_since_takes_any_iso_offset(victor: User, as_user: Callable[..., APIClient]) -> None:
    client = as_user(victor)
    # +19:00 is valid ISO 8601 and Python, beyond what PostgreSQL accepts as an offset.
    assert client.get("/api/v1/audit/?since=2000-01-01T00:00:00%2B19:00").status_code == 200
    r = client.get("/api/v1/audit/?since=0001-01-01T00:00:00%2B19:00")
    assert r.status_code == 400
    assert "out of range" in r.json()["since"][0]
    assert client.get("/api/v1/audit/?since=yesterday").status_code == 400
