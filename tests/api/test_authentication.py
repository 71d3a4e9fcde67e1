"""Tokens made with `manage.py create-token` and browser sessions both authenticate;
a bad token is a 401 that says how to authenticate, never a 403."""

from __future__ import annotations

import io

from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from swapadmin.core.models import Backend
from tests.fixtures.people import PASSWORD


def test_a_token_from_the_management_command_works(victor: User) -> None:
    out = io.StringIO()
    call_command("create-token", "victor", "--name", "cron", "--days", "7", stdout=out)
    key = out.getvalue().strip()
    client = APIClient(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/hosts/").status_code == 200


def test_a_wrong_token_is_401(db: None) -> None:
    r = APIClient(HTTP_AUTHORIZATION="Token 0123456789abcdef").get("/api/v1/hosts/")
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == "Token"
    assert r.json()["detail"] == "Invalid token."


def test_a_session_reads_and_needs_csrf_to_change(oscar: User, backend: Backend) -> None:
    client = Client(enforce_csrf_checks=True)
    # Login throttling (django-axes) needs the request a login comes in.
    assert client.login(
        request=RequestFactory().post("/login/"), username="oscar", password=PASSWORD
    )
    assert client.get("/api/v1/backends/").status_code == 200
    r = client.post(f"/api/v1/backends/{backend.uuid}/scan/", {}, content_type="application/json")
    assert r.status_code == 403
    assert "CSRF" in r.json()["detail"]
    assert not backend.jobs.exists()


def test_schema_and_docs_need_a_login(victor: User) -> None:
    client = Client()
    assert client.get("/api/schema/?format=json").status_code in (401, 403)
    assert client.get("/api/docs/").status_code in (401, 403)
    client.force_login(victor)
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert schema.json()["openapi"].startswith("3.")
    assert "/api/v1/backends/{uuid}/burn-in/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    # Swagger UI comes from the vendored sidecar, not a CDN: the page works offline.
    assert b"cdn.jsdelivr.net" not in docs.content
