"""The audit trail's ``source_ip`` is the peer's address, or the client's as a trusted
proxy names it; what a client writes in X-Forwarded-For itself never gets there, through
the pages or the API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from swapadmin.core.models import AuditEvent, Host
from tests.fixtures.tokens import token_for

pytestmark = pytest.mark.django_db

FORGED = "198.51.100.66"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def page_refusal(client, oscar, host: Host, **peer: str) -> AuditEvent:
    """An operator asking to forget a host: refused, and audited with where it came from."""
    client.force_login(oscar)
    assert client.post(f"/hosts/{host.uuid}/forget/", **peer).status_code == 403
    return AuditEvent.objects.filter(action="forget-host").latest("at")


def api_refusal(victor, **peer: str) -> AuditEvent:
    """A viewer asking to create a backend: refused, audited."""
    client = APIClient(**peer)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(victor)}")
    assert client.post("/api/v1/backends/", {}, format="json").status_code == 403
    return AuditEvent.objects.filter(outcome="refused").latest("at")


def test_pages_ignore_an_untrusted_peers_header(client, oscar, host_row):
    event = page_refusal(
        client, oscar, host_row, REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR=FORGED
    )
    assert event.source_ip == "192.0.2.7"


def test_pages_take_the_client_from_a_trusted_proxy(client, oscar, host_row, settings):
    settings.SWAPADMIN_TRUSTED_PROXIES = ["127.0.0.1"]
    event = page_refusal(
        client, oscar, host_row,
        REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"{FORGED}, 203.0.113.9",
    )  # fmt: skip
    assert event.source_ip == "203.0.113.9"


def test_garbage_from_a_trusted_proxy_is_recorded_as_unknown(client, oscar, host_row, settings):
    settings.SWAPADMIN_TRUSTED_PROXIES = ["127.0.0.1"]
    event = page_refusal(
        client, oscar, host_row, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="unknown"
    )
    assert event.source_ip is None


def test_the_api_ignores_an_untrusted_peers_header(victor):
    event = api_refusal(victor, REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR=FORGED)
    assert event.source_ip == "192.0.2.7"


def test_the_api_takes_the_client_from_a_trusted_proxy(victor, settings):
    settings.SWAPADMIN_TRUSTED_PROXIES = ["192.0.2.0/24"]
    event = api_refusal(victor, REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert event.source_ip == "203.0.113.9"
