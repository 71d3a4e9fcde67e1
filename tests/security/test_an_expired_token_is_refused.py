"""A token past its expiry is refused like an unknown one (401), and knox deletes its row
when it is presented; one a second before its expiry still works."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from swapadmin.accounts.models import ApiToken
from tests.fixtures.tokens import token_for


def test_a_token_past_its_expiry_is_401(oscar: User) -> None:
    secret = token_for(oscar, name="nightly", days=30)
    api = APIClient(HTTP_AUTHORIZATION=f"Token {secret}")
    assert api.get("/api/v1/hosts/").status_code == 200

    ApiToken.objects.filter(user=oscar).update(expiry=timezone.now() - timedelta(seconds=1))
    r = api.get("/api/v1/hosts/")
    assert r.status_code == 401
    assert r["WWW-Authenticate"] == "Token"
    assert not ApiToken.objects.filter(user=oscar).exists()


def test_a_token_just_before_its_expiry_works(oscar: User) -> None:
    secret = token_for(oscar)
    ApiToken.objects.filter(user=oscar).update(expiry=timezone.now() + timedelta(seconds=30))
    assert APIClient(HTTP_AUTHORIZATION=f"Token {secret}").get("/api/v1/hosts/").status_code == 200


def test_metrics_refuses_an_expired_token_too(victor: User) -> None:
    secret = token_for(victor)
    ApiToken.objects.filter(user=victor).update(expiry=timezone.now() - timedelta(days=1))
    api = APIClient(REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION=f"Token {secret}")
    assert api.get("/metrics").status_code == 401
