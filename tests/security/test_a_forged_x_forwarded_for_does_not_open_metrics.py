"""/metrics answers token-less scrapes from SWAPADMIN_METRICS_ALLOWED_IPS only: a client
cannot get in by claiming an allowed address in X-Forwarded-For, and a reverse proxy on an
allowed address (loopback) does not make everyone it forwards allowed."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def scrape(peer: str, xff: str | None = None) -> int:
    extra = {"HTTP_X_FORWARDED_FOR": xff} if xff is not None else {}
    return Client(REMOTE_ADDR=peer, **extra).get("/metrics").status_code


def test_a_client_claiming_loopback_is_refused(settings):
    assert settings.SWAPADMIN_METRICS_ALLOWED_IPS == ["127.0.0.1", "::1"]
    assert scrape("192.0.2.7", "127.0.0.1") == 401
    settings.SWAPADMIN_TRUSTED_PROXIES = ["10.0.0.1"]  # a proxy, but not this peer
    assert scrape("192.0.2.7", "127.0.0.1") == 401


def test_through_a_loopback_proxy_the_client_decides(settings):
    settings.SWAPADMIN_TRUSTED_PROXIES = ["127.0.0.1"]
    assert scrape("127.0.0.1", "192.0.2.7") == 401
    assert scrape("127.0.0.1", "127.0.0.1, 192.0.2.7") == 401  # the client's own claim
    assert scrape("127.0.0.1", "unknown") == 401  # unknown is not allowed
    assert scrape("127.0.0.1") == 200  # a scraper on this machine, not through the proxy


def test_through_a_trusted_proxy_an_allowed_client_gets_in(settings):
    settings.SWAPADMIN_TRUSTED_PROXIES = ["192.0.2.1"]
    settings.SWAPADMIN_METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert scrape("192.0.2.1", "10.1.2.3") == 200
    assert scrape("192.0.2.1", "10.1.2.3, 192.0.2.66") == 401
    assert scrape("192.0.2.1") == 401  # the proxy itself is not on the list
