"""A request authenticated by a token cannot make a token that outlives it: a stolen token
that expires tomorrow cannot mint itself a year. Signed in with a password, one can."""

from __future__ import annotations

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from swapadmin.accounts.models import ApiToken
from tests.fixtures.tokens import token_for


def test_a_one_day_token_cannot_make_a_year_long_one(oscar: User) -> None:
    api = APIClient(HTTP_AUTHORIZATION=f"Token {token_for(oscar, days=2)}")
    r = api.post("/api/v1/tokens/", {"name": "forever", "expires_in_days": 365}, "json")
    assert r.status_code == 400
    assert "cannot outlive" in r.json()["expires_in_days"][0]
    assert not ApiToken.objects.filter(name="forever").exists()

    shorter = api.post("/api/v1/tokens/", {"name": "short", "expires_in_days": 1}, "json")
    assert shorter.status_code == 201


def test_a_session_may_make_a_year_long_token(oscar: User) -> None:
    api = APIClient()
    api.force_authenticate(oscar)
    r = api.post("/api/v1/tokens/", {"name": "yearly", "expires_in_days": 365}, "json")
    assert r.status_code == 201


def test_bad_input_is_400_naming_the_field_and_makes_nothing(oscar: User) -> None:
    api = APIClient()
    api.force_authenticate(oscar)
    for body, field in (
        ({"name": "", "expires_in_days": 5}, "name"),
        ({"name": "x" * 65, "expires_in_days": 5}, "name"),
        ({"name": "ok", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "ok", "expires_in_days": 366}, "expires_in_days"),
        ({"name": "ok", "expires_in_days": "soon"}, "expires_in_days"),
    ):
        r = api.post("/api/v1/tokens/", body, "json")
        assert r.status_code == 400, body
        assert field in r.json(), (body, r.json())
    assert not ApiToken.objects.exists()
