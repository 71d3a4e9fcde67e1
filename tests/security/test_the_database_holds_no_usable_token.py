"""A token made through the API is stored as a digest: nothing in its row, read back from
the database, is the secret or works as one. Someone with a copy of the database (a backup,
the SQLite file of `make run`) holds no API token."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import connection
from rest_framework.test import APIClient

from swapadmin.accounts.models import ApiToken
from tests.fixtures.tokens import token_for


def raw_row(code: Any) -> dict[str, Any]:
    """The token's row as the database has it, every column, with no model in between."""
    table = ApiToken._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE code = %s", [code])  # noqa: S608
        names = [c[0] for c in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def test_no_column_holds_the_secret_and_none_works_as_one(alice: User) -> None:
    api = APIClient()
    api.force_authenticate(alice)
    made = api.post("/api/v1/tokens/", {"name": "backup test", "expires_in_days": 7}, "json")
    assert made.status_code == 201, made.content
    secret = made.json()["token"]
    assert len(secret) == 64

    row = raw_row(made.json()["id"])
    assert secret not in " ".join(str(v) for v in row.values())
    assert row["digest"] != secret and len(row["digest"]) == 128  # SHA-512, hex
    # The lookup key is the secret's first 15 characters: 60 of its 256 bits.
    assert secret.startswith(row["token_key"]) and len(row["token_key"]) == 15

    # The secret works; what the database holds does not.
    assert APIClient(HTTP_AUTHORIZATION=f"Token {secret}").get("/api/v1/hosts/").status_code == 200
    for stolen in (row["digest"], row["token_key"], row["token_key"] + "0" * 49):
        r = APIClient(HTTP_AUTHORIZATION=f"Token {stolen}").get("/api/v1/hosts/")
        assert r.status_code == 401, stolen


def test_listing_tokens_never_shows_a_secret(alice: User) -> None:
    secret = token_for(alice, name="listed")
    api = APIClient(HTTP_AUTHORIZATION=f"Token {secret}")
    listed = api.get("/api/v1/tokens/")
    assert listed.status_code == 200
    assert [t["name"] for t in listed.json()["results"]] == ["listed"]
    assert "token" not in listed.json()["results"][0]
    assert secret not in listed.content.decode()
    code = listed.json()["results"][0]["id"]
    assert secret not in api.get(f"/api/v1/tokens/{code}/").content.decode()
