"""An IPv6 client has a whole /64 to send from, so login failures are counted per /64: a
guesser who sends each wrong password from a new address of his network is locked out as
if he used one, the right password too. Another /64 is not held back, and IPv4 clients on a
dual-stack socket (``::ffff:a.b.c.d``) are still counted one address each."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from swapadmin.accounts.throttle import lockout_address
from tests.fixtures.people import PASSWORD

GUESSER_NET = "2001:db8:0:66"  # one /64: 2001:db8:0:66::/64
GUESSES = 15


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def log_in(remote_addr: str, username: str, password: str) -> Any:
    client = Client(REMOTE_ADDR=remote_addr)
    return client.post(reverse("login"), {"username": username, "password": password})


def test_fresh_addresses_of_one_64_are_locked_out_together(alice: User) -> None:
    # A new address for every guess, as SLAAC privacy addresses give for free.
    codes = [
        log_in(f"{GUESSER_NET}:{n:x}:{n * 7:x}:{n * 13:x}:{n + 1:x}", "alice", "wrong").status_code
        for n in range(GUESSES)
    ]
    limit = settings.AXES_FAILURE_LIMIT
    assert codes == [200] * (limit - 1) + [429] * (GUESSES - limit + 1)

    r = log_in(f"{GUESSER_NET}:dead:beef:0:1", "alice", PASSWORD)
    assert r.status_code == 429
    body = r.content.decode()
    assert 'id="locked-out"' in body and "Too many failed logins" in body

    # The same user from another /64 (next door, even) is not locked out.
    assert log_in("2001:db8:0:67::1", "alice", PASSWORD).status_code == 302


def test_ipv4_clients_on_a_dual_stack_socket_are_counted_one_address_each(alice: User) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in("::ffff:192.0.2.66", "alice", "wrong")
    # The mapped form and the plain form are one client, locked out...
    assert log_in("192.0.2.66", "alice", PASSWORD).status_code == 429
    # ...and its neighbours are not, though every mapped address lies in the one /64 ::/64.
    assert log_in("::ffff:192.0.2.67", "alice", PASSWORD).status_code == 302


def test_the_key_is_the_64s_first_address() -> None:
    assert lockout_address("2001:db8:0:66:1:2:3:4") == "2001:db8:0:66::"
    assert lockout_address("2001:db8:0:66::") == "2001:db8:0:66::"
    assert lockout_address("::ffff:192.0.2.66") == "192.0.2.66"
    assert lockout_address("192.0.2.66") == "192.0.2.66"
    assert lockout_address(None) is None
