"""The compose web is reachable from this machine only (the TLS proxy in front of it runs
here), unless SWAPADMIN_BIND names an address to publish it on; nothing else publishes a port."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy import compose

NEEDED = {"SECRET_KEY": "k", "POSTGRES_PASSWORD": "p", "REDIS_PASSWORD": "r", "SWAPADMIN_HOST": "h"}


def host_addresses(service: dict[str, Any], env: dict[str, str]) -> list[str]:
    """The host address of each port the service publishes ("" when it names none: compose
    then publishes on every interface)."""
    out = []
    for entry in service.get("ports", []):
        assert isinstance(entry, str), f"long-syntax port entries are not expected: {entry!r}"
        parts = compose.interpolate(entry, env).rsplit(":", 2)
        out.append(parts[0] if len(parts) == 3 else "")
    return out


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return compose.load()["services"]


def test_it_publishes_the_web_on_loopback_by_default(services: dict[str, Any]) -> None:
    assert host_addresses(services["web"], NEEDED) == ["127.0.0.1"]


def test_swapadmin_bind_publishes_it_where_it_says(services: dict[str, Any]) -> None:
    env = {**NEEDED, "SWAPADMIN_BIND": "192.0.2.7"}
    assert host_addresses(services["web"], env) == ["192.0.2.7"]


def test_an_empty_swapadmin_bind_still_means_loopback(services: dict[str, Any]) -> None:
    # An .env line "SWAPADMIN_BIND=" must not publish on every interface.
    assert host_addresses(services["web"], {**NEEDED, "SWAPADMIN_BIND": ""}) == ["127.0.0.1"]


def test_no_other_service_publishes_a_port(services: dict[str, Any]) -> None:
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"web"}
