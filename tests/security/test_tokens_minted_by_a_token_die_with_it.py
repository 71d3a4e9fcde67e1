"""A token can make tokens through the API; each records the token that made it, and
revoking a token revokes everything it made, and what those made, at once. So a thief who
mints himself spares with a stolen token loses them with it. Tokens made by a person who
signed in hang from no token and are not touched."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from swapadmin.accounts.models import ApiToken
from swapadmin.core.models import AuditEvent
from tests.fixtures.tokens import token_for


def api(secret: str) -> APIClient:
    return APIClient(HTTP_AUTHORIZATION=f"Token {secret}")


def mint(secret: str, name: str, days: int = 7) -> dict[str, Any]:
    # Each shorter-lived than its maker: a token cannot make one that outlives it.
    r = api(secret).post("/api/v1/tokens/", {"name": name, "expires_in_days": days}, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def works(secret: str) -> int:
    return api(secret).get("/api/v1/hosts/").status_code


@pytest.fixture
def signed_in_token(client: Client, oscar: User) -> str:
    """A token oscar made on the tokens page after signing in with his password."""
    client.force_login(oscar)
    r = client.post("/tokens/", {"name": "laptop", "expires_in_days": 30})
    assert r.status_code == 201
    found = re.search(r'<code class="mono" id="secret">([^<]+)</code>', r.content.decode())
    assert found
    return found.group(1)


def test_revoking_a_token_revokes_all_it_minted(oscar: User, signed_in_token: str) -> None:
    leaked = token_for(oscar, name="leaked", days=30)
    child1 = mint(leaked, "spare 1")
    child2 = mint(leaked, "spare 2")
    grandchild = mint(child1["token"], "spare of a spare", days=1)
    minted = [child1["token"], child2["token"], grandchild["token"]]
    assert [works(s) for s in [leaked, *minted, signed_in_token]] == [200] * 5

    leaked_id = str(ApiToken.objects.get(name="leaked").code)
    # The owner revokes the leaked token through the API, with his own signed-in token.
    r = api(signed_in_token).delete(f"/api/v1/tokens/{leaked_id}/")
    assert r.status_code == 204

    assert [works(s) for s in [leaked, *minted]] == [401] * 4
    assert works(signed_in_token) == 200
    assert list(ApiToken.objects.filter(user=oscar).values_list("name", flat=True)) == ["laptop"]
    event = AuditEvent.objects.get(action="token_revoke")
    assert str(event.object_uuid) == leaked_id
    assert sorted(event.detail["with_minted"]) == sorted(
        f"{t['name']} ({t['id']})" for t in [child1, child2, grandchild]
    )


def test_revoking_a_child_leaves_its_parent_and_siblings(oscar: User) -> None:
    parent = token_for(oscar, name="ci", days=30)
    child1, child2 = mint(parent, "job 1"), mint(parent, "job 2")
    assert api(parent).delete(f"/api/v1/tokens/{child1['id']}/").status_code == 204
    assert [works(parent), works(child1["token"]), works(child2["token"])] == [200, 401, 200]


def test_the_api_and_page_show_which_token_made_a_token(
    client: Client, oscar: User, signed_in_token: str
) -> None:
    parent = token_for(oscar, name="ci", days=30)
    child = mint(parent, "job")
    assert child["parent"] == str(ApiToken.objects.get(name="ci").code)

    listed = {t["name"]: t["parent"] for t in api(parent).get("/api/v1/tokens/").json()["results"]}
    assert listed == {"job": child["parent"], "ci": None, "laptop": None}

    page = client.get("/tokens/").content.decode()
    row = re.search(rf'<tr data-token="{child["id"]}">.*?</tr>', page, re.S)
    assert row and "made by token “ci”" in row.group(0)
    laptop = ApiToken.objects.get(name="laptop").code
    row = re.search(rf'<tr data-token="{laptop}">.*?</tr>', page, re.S)
    assert row and "made by" not in row.group(0)
