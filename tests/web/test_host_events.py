"""The host page lists the host's health events (offline, back online, its backends'
changes), newest first; the polled partial does not carry them."""

from typing import Any

from django.contrib.auth.models import User
from django.urls import reverse

from swapadmin.core.models import Backend, Host
from swapadmin.health.models import HealthEvent

from .conftest import htmx


def test_it_shows_host_and_backend_events(
    as_user: Any, victor: User, observed_host: Host, backend: Backend
) -> None:
    HealthEvent.objects.create(
        host=observed_host, kind="connectivity", from_status="ok", to_status="fail",
        message="testhost went offline: no heartbeat for 50 s",
    )  # fmt: skip
    HealthEvent.objects.create(
        host=observed_host, backend=backend, backend_name=backend.name, from_status="ok",
        to_status="warn", message="swap1 is 85% used",
    )  # fmt: skip
    body = as_user(victor).get(reverse("host", args=[observed_host.uuid])).content.decode()
    assert "Health events" in body
    offline = body.index("testhost went offline")
    used = body.index("swap1 is 85% used")
    assert used < offline  # newest first
    assert f'href="{reverse("backend", args=[backend.uuid])}"' in body


def test_it_says_when_there_are_none(as_user: Any, victor: User, observed_host: Host) -> None:
    body = as_user(victor).get(reverse("host", args=[observed_host.uuid])).content.decode()
    assert "No change of health on testhost yet." in body


def test_the_polled_partial_leaves_them_out(
    as_user: Any, victor: User, observed_host: Host
) -> None:
    HealthEvent.objects.create(
        host=observed_host, from_status="ok", to_status="fail", message="offline"
    )
    r = as_user(victor).get(reverse("host", args=[observed_host.uuid]), headers=htmx("live"))
    assert r.status_code == 200
    assert "Health events" not in r.content.decode()
