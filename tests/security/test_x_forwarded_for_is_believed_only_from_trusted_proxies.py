"""``client_ip``: X-Forwarded-For is read only when the peer is in
SWAPADMIN_TRUSTED_PROXIES, and then from the right, past our own proxies; whatever a client
wrote to the left is never read, and a value that is no address makes the client unknown
rather than guessed. A bad entry in the setting stops the start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from swapadmin.core.clientip import client_ip

ROOT = Path(__file__).resolve().parents[2]


def meta(peer: str | None, xff: str | None = None) -> dict[str, str]:
    m = {} if peer is None else {"REMOTE_ADDR": peer}
    if xff is not None:
        m["HTTP_X_FORWARDED_FOR"] = xff
    return m


@pytest.fixture
def proxies(settings):
    settings.SWAPADMIN_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/24", "fd00::/64"]
    return settings


def test_with_no_proxies_configured_the_header_is_ignored(settings):
    assert settings.SWAPADMIN_TRUSTED_PROXIES == []  # the default
    assert client_ip(meta("127.0.0.1", "203.0.113.9")) == "127.0.0.1"


def test_from_an_untrusted_peer_the_header_is_ignored(proxies):
    assert client_ip(meta("192.0.2.7", "127.0.0.1")) == "192.0.2.7"
    assert client_ip(meta("192.0.2.7", "10.0.0.5, 127.0.0.1")) == "192.0.2.7"
    assert client_ip(meta("192.0.2.7", "garbage")) == "192.0.2.7"


def test_from_a_trusted_proxy_the_nearest_untrusted_hop_is_the_client(proxies):
    assert client_ip(meta("127.0.0.1", "203.0.113.9")) == "203.0.113.9"
    # The client wrote 127.0.0.1 itself; our proxy appended the address it really saw.
    assert client_ip(meta("127.0.0.1", "127.0.0.1, 203.0.113.9")) == "203.0.113.9"
    # Two of our proxies in a row (a load balancer, then the local one).
    assert client_ip(meta("127.0.0.1", "1.1.1.1, 203.0.113.9, 10.0.0.5")) == "203.0.113.9"
    assert client_ip(meta("fd00::1", "2001:db8::7")) == "2001:db8::7"
    # Every hop ours: the request started at the left-most of them.
    assert client_ip(meta("127.0.0.1", "10.0.0.6, 10.0.0.5")) == "10.0.0.6"


def test_a_trusted_proxy_adding_no_header_is_the_client(proxies):
    # A scraper on the proxy's own machine, not going through it.
    assert client_ip(meta("127.0.0.1")) == "127.0.0.1"
    assert client_ip(meta("127.0.0.1", "  ")) == "127.0.0.1"


@pytest.mark.parametrize(
    "xff",
    [
        "unknown",
        "203.0.113.9:4711",
        "[2001:db8::7]:443",
        "203.0.113.9, ",
        "203.0.113.9,,",
        "not an address at all",
        "_hidden",
        "203.0.113.999",
        "\x00\xff",
        "1" * 10_000,
    ],
)
def test_garbage_from_a_trusted_proxy_makes_the_client_unknown(proxies, xff):
    assert client_ip(meta("127.0.0.1", xff)) is None


def test_garbage_left_of_the_client_is_never_read(proxies):
    assert client_ip(meta("127.0.0.1", "unknown, ::, 203.0.113.9")) == "203.0.113.9"


def test_a_peer_given_as_ipv4_mapped_ipv6_is_matched_as_ipv4(proxies):
    assert client_ip(meta("::ffff:127.0.0.1", "203.0.113.9")) == "203.0.113.9"
    assert client_ip(meta("::ffff:192.0.2.7", "203.0.113.9")) == "192.0.2.7"


def test_no_peer_address_is_unknown(proxies):
    assert client_ip(meta(None, "203.0.113.9")) is None
    assert client_ip(meta("", "203.0.113.9")) is None


def test_a_bad_entry_in_the_setting_stops_the_start():
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "swapadmin.settings",
            "SWAPADMIN_TRUSTED_PROXIES": "127.0.0.1,proxy.example.com",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert (
        "SWAPADMIN_TRUSTED_PROXIES: 'proxy.example.com' is neither an IP address nor a "
        "network like 10.0.0.0/8"
    ) in done.stderr
