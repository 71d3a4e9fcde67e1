"""GET /api/v1/health/: the latest result of every backend, read-only, for viewers up."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from swapadmin.core.models import Backend
from swapadmin.health.models import BackendHealth, CheckResult, HealthEvent

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.health.urls")]


def checked(host, name: str, status: str, message: str) -> Backend:
    backend = Backend.objects.create(host=host, kind="file", name=name, params={})
    finding = {"check": "drift", "status": status, "message": message, "value": {"x": 1}}
    result = CheckResult.objects.create(
        host=host, backend=backend, status=status, findings=[finding]
    )
    BackendHealth.objects.create(
        backend=backend,
        status=status,
        summary=message,
        checked_at=timezone.now(),
        last_result=result,
    )
    return backend


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_it_lists_the_latest_result_per_backend(host_row, victor):
    bad = checked(host_row, "a", "fail", "should be active")
    checked(host_row, "b", "ok", "active, as desired")

    with CaptureQueriesContext(connection) as queries:
        response = client_for(victor).get("/api/v1/health/")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["backend"], r["status"]) for r in rows] == [("a", "fail"), ("b", "ok")]
    first = rows[0]
    assert first["id"] == str(bad.uuid)
    assert first["host"] == "testhost"
    assert first["summary"] == "should be active"
    assert first["findings"] == [
        {"check": "drift", "status": "fail", "message": "should be active", "value": {"x": 1}}
    ]
    assert first["checked_at"]
    # One query for the rows (joined), one for the count; the user's groups for the role.
    assert len([q for q in queries if "health_backendhealth" in q["sql"]]) == 2


def test_it_filters_by_status_and_reads_one_by_backend_id(host_row, victor):
    bad = checked(host_row, "a", "fail", "x")
    checked(host_row, "b", "ok", "y")
    client = client_for(victor)
    rows = client.get("/api/v1/health/", {"status": "fail"}).json()["results"]
    assert [r["backend"] for r in rows] == ["a"]
    one = client.get(f"/api/v1/health/{bad.uuid}/")
    assert (one.status_code, one.json()["status"]) == (200, "fail")


def test_it_is_read_only(host_row, alice):
    bad = checked(host_row, "a", "fail", "x")
    response = client_for(alice).delete(f"/api/v1/health/{bad.uuid}/")
    assert response.status_code in (403, 405)
    assert BackendHealth.objects.filter(backend=bad).exists()


def test_it_needs_a_role(host_row, nora):
    checked(host_row, "a", "fail", "x")
    assert client_for(nora).get("/api/v1/health/").status_code == 403
    assert APIClient().get("/api/v1/health/").status_code == 401


def test_it_lists_events(host_row, victor):
    backend = checked(host_row, "a", "fail", "x")
    HealthEvent.objects.create(
        host=host_row,
        backend=backend,
        backend_name="a",
        from_status="ok",
        to_status="fail",
        message="x",
    )
    rows = client_for(victor).get("/api/v1/health-events/").json()["results"]
    assert [(r["backend"], r["from_status"], r["to_status"]) for r in rows] == [("a", "ok", "fail")]
    assert rows[0]["backend_id"] == str(backend.uuid)
