"""Revoking a token (the API's DELETE or the page's button) deletes its row: the very next
request with the secret is a 401. Each revocation is in the audit trail."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from swapadmin.accounts.models import ApiToken
from swapadmin.core.models import AuditEvent
from tests.fixtures.tokens import token_for


def test_revoked_through_the_api(oscar: User) -> None:
    secret = token_for(oscar, name="leaked")
    other = token_for(oscar, name="kept")
    api = APIClient(HTTP_AUTHORIZATION=f"Token {secret}")
    assert api.get("/api/v1/hosts/").status_code == 200
    code = ApiToken.objects.get(name="leaked").code

    # Revoked with the other token, as a sysadmin would after a leak.
    r = APIClient(HTTP_AUTHORIZATION=f"Token {other}").delete(f"/api/v1/tokens/{code}/")
    assert r.status_code == 204

    assert api.get("/api/v1/hosts/").status_code == 401
    assert APIClient(HTTP_AUTHORIZATION=f"Token {other}").get("/api/v1/hosts/").status_code == 200
    event = AuditEvent.objects.get(action="token_revoke")
    assert (event.actor_name, event.object_uuid, event.via) == ("oscar", code, "api")


def test_a_token_can_revoke_itself(victor: User) -> None:
    secret = token_for(victor)
    api = APIClient(HTTP_AUTHORIZATION=f"Token {secret}")
    code = ApiToken.objects.get(user=victor).code
    assert api.delete(f"/api/v1/tokens/{code}/").status_code == 204
    assert api.get("/api/v1/hosts/").status_code == 401


def test_revoked_on_the_page(client: Client, oscar: User) -> None:
    secret = token_for(oscar, name="ci")
    code = ApiToken.objects.get(user=oscar).code
    client.force_login(oscar)
    r = client.post(f"/tokens/{code}/revoke/")
    assert r.status_code == 302
    assert APIClient(HTTP_AUTHORIZATION=f"Token {secret}").get("/api/v1/hosts/").status_code == 401
    assert AuditEvent.objects.filter(action="token_revoke", via="page").count() == 1
