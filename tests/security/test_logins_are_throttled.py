"""After AXES_FAILURE_LIMIT wrong passwords for one user name from one address, the login
page refuses that pair for the cool-off, the right password too, and says why (429). Another
address, or another user name, is not held back; after the cool-off the right password works."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from tests.fixtures.people import PASSWORD

ATTACKER = "192.0.2.66"


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def log_in(client: Client, username: str, password: str) -> Any:
    return client.post(reverse("login"), {"username": username, "password": password})


def logged_in(client: Client) -> bool:
    return client.get(reverse("overview")).status_code == 200


def fail_until_locked(client: Client, username: str) -> None:
    for attempt in range(1, settings.AXES_FAILURE_LIMIT):
        r = log_in(client, username, "wrong")
        assert r.status_code == 200, attempt  # an ordinary refusal, not yet the lock-out
    assert log_in(client, username, "wrong").status_code == 429


def test_the_right_password_is_refused_during_the_lock_out(alice: User) -> None:
    attacker = Client(REMOTE_ADDR=ATTACKER)
    fail_until_locked(attacker, "alice")

    r = log_in(attacker, "alice", PASSWORD)
    assert r.status_code == 429
    body = r.content.decode()
    assert 'id="locked-out"' in body
    assert "Too many failed logins" in body and "try again in 15 minutes" in body
    assert 'name="password"' in body  # still the login page, not a bare error
    assert not logged_in(attacker)


def test_the_lock_out_holds_one_name_from_one_address(alice: User, oscar: User) -> None:
    fail_until_locked(Client(REMOTE_ADDR=ATTACKER), "alice")

    # alice from her own desk is not locked out by someone guessing from elsewhere...
    desk = Client(REMOTE_ADDR="192.0.2.10")
    assert log_in(desk, "alice", PASSWORD).status_code == 302
    assert logged_in(desk)
    # ...nor is another user from the attacker's address.
    shared = Client(REMOTE_ADDR=ATTACKER)
    assert log_in(shared, "oscar", PASSWORD).status_code == 302


def test_after_the_cool_off_the_right_password_works(alice: User) -> None:
    attacker = Client(REMOTE_ADDR=ATTACKER)
    fail_until_locked(attacker, "alice")
    # The cool-off passes: the attempts are dated further back, not waited for.
    past = settings.AXES_COOLOFF_TIME + timedelta(seconds=1)
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= past
        attempt.save()
    assert log_in(attacker, "alice", PASSWORD).status_code == 302
    assert logged_in(attacker)


def test_the_admin_site_login_is_throttled_too(alice: User) -> None:
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attacker.post("/admin/login/", {"username": "alice", "password": "wrong"})
    r = attacker.post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert r.status_code == 429
    assert not logged_in(attacker)


def test_a_forged_x_forwarded_for_does_not_buy_fresh_guesses(alice: User) -> None:
    # Not a trusted proxy: each guess names another "client" address, all of them ignored.
    attacker = Client(REMOTE_ADDR=ATTACKER)
    for n in range(settings.AXES_FAILURE_LIMIT):
        attacker.post(
            reverse("login"),
            {"username": "alice", "password": "wrong"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        )
    r = attacker.post(
        reverse("login"),
        {"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.200"},
    )
    assert r.status_code == 429
