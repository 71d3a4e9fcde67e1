"""Only an admin sees and revokes other people's tokens. For an operator another user's
token does not exist (404, on the page and in the API) and it keeps working; an admin's
list has everyone's, and the admin can revoke a leaked one of anyone's."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from swapadmin.accounts.models import ApiToken
from swapadmin.core.models import AuditEvent
from tests.fixtures.tokens import token_for


def works(secret: str) -> bool:
    return APIClient(HTTP_AUTHORIZATION=f"Token {secret}").get("/api/v1/hosts/").status_code == 200


def test_an_operator_cannot_see_or_revoke_an_admins_token(alice: User, oscar: User) -> None:
    alices = token_for(alice, name="alice's deploy")
    code = ApiToken.objects.get(user=alice).code
    api = APIClient(HTTP_AUTHORIZATION=f"Token {token_for(oscar, name='oscar cli')}")

    assert [t["name"] for t in api.get("/api/v1/tokens/").json()["results"]] == ["oscar cli"]
    assert api.get(f"/api/v1/tokens/{code}/").status_code == 404
    assert api.delete(f"/api/v1/tokens/{code}/").status_code == 404

    page = Client()
    page.force_login(oscar)
    assert page.post(f"/tokens/{code}/revoke/").status_code == 404
    listing = page.get("/tokens/").content.decode()
    assert "oscar cli" in listing and str(code) not in listing

    assert works(alices)
    assert not AuditEvent.objects.filter(action="token_revoke").exists()


def test_an_admin_lists_and_revokes_anyones_token(alice: User, oscar: User) -> None:
    oscars = token_for(oscar, name="oscar cli")
    code = ApiToken.objects.get(user=oscar).code
    api = APIClient(HTTP_AUTHORIZATION=f"Token {token_for(alice, name='alice cli')}")
    listed = {(t["user"], t["name"]) for t in api.get("/api/v1/tokens/").json()["results"]}
    assert listed == {("alice", "alice cli"), ("oscar", "oscar cli")}

    assert api.delete(f"/api/v1/tokens/{code}/").status_code == 204
    assert not works(oscars)
    event = AuditEvent.objects.get(action="token_revoke")
    assert (event.actor_name, event.detail["owner"]) == ("alice", "oscar")
