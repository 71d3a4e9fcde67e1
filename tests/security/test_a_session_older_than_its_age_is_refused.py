"""A session lasts SESSION_COOKIE_AGE (12 h by default) from sign-in: the dashboard's
polling does not stretch it, and past it the server refuses the session whatever the
browser still sends (pages go to the login page, the API answers 401)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.fixtures.people import PASSWORD


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def signed_in(username: str) -> tuple[Client, Session]:
    client = Client()
    r = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert r.status_code == 302
    return client, Session.objects.get(session_key=client.cookies["sessionid"].value)


def test_the_default_age_is_twelve_hours_and_the_cookie_ends_with_the_browser() -> None:
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


def test_the_age_counts_from_sign_in_not_from_the_last_request(victor: User) -> None:
    client, session = signed_in("victor")
    expected = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs(session.expire_date - expected) < timedelta(minutes=1)
    assert client.cookies["sessionid"]["max-age"] == ""  # a browser session cookie

    for _ in range(3):  # what the overview's polling does
        assert client.get(reverse("overview"), headers={"HX-Request": "true"}).status_code == 200
    session.refresh_from_db()
    assert abs(session.expire_date - expected) < timedelta(minutes=1)


def test_a_session_past_its_age_is_refused(victor: User) -> None:
    client, session = signed_in("victor")
    assert client.get(reverse("overview")).status_code == 200

    session.expire_date = timezone.now() - timedelta(seconds=1)
    session.save()

    r = client.get(reverse("overview"))
    assert r.status_code == 302 and r["Location"].startswith(reverse("login"))
    assert client.get("/api/v1/hosts/").status_code == 401
