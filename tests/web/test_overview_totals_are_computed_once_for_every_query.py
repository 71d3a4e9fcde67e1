"""The fleet's totals are computed once per LIVE_CACHE_SECONDS in a process whatever page,
search or sort each dashboard shows (they read every host: 50 dashboards on 50 different
pages paid it 50 times), and a viewer cycling through many searches pushes out only the
oldest drawn live regions, not everyone's at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from swapadmin.core.models import Host
from swapadmin.web import views

from .conftest import htmx


@pytest.fixture
def viewer(as_user: Any, victor: User, monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setattr(views, "LIVE_CACHE_SECONDS", 60)  # nothing expires during the test
    monkeypatch.setattr(views, "_totals_cache", None, raising=False)
    monkeypatch.setattr(views, "_live_cache", None)
    for name in ("alpha", "beta", "gamma"):
        Host.objects.create(name=name, last_heartbeat=timezone.now())
    client = as_user(victor)
    client.get(reverse("overview"), {"q": "warm-up"})  # the session, read once
    return client


def totals_computed(client: Client, requests: list[tuple[dict[str, str], dict[str, str]]]) -> int:
    """How many times the fleet's totals were added up while drawing ``requests``."""
    with CaptureQueriesContext(connection) as ctx:
        for params, headers in requests:
            assert client.get(reverse("overview"), params, headers=headers).status_code == 200
    return sum("SUM(" in q["sql"] and "snap_mem_total" in q["sql"] for q in ctx.captured_queries)


def test_every_query_shares_one_computation(viewer: Client) -> None:
    requests = [
        ({}, {}),
        ({"q": "alp"}, htmx("live")),
        ({"sort": "-name"}, htmx("live")),
        ({"state": "offline"}, {}),
        ({"q": "gam", "sort": "swap"}, htmx("live")),
    ]
    assert totals_computed(viewer, requests) == 0  # the warm-up's still answers
    views._totals_cache = None  # as when LIVE_CACHE_SECONDS has passed
    assert totals_computed(viewer, requests) == 1


def test_many_searches_push_out_only_the_oldest(
    viewer: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "LIVE_CACHE_QUERIES", 3)

    def live(sort: str) -> str:
        return viewer.get(
            reverse("overview"), {"sort": sort}, headers=htmx("live")
        ).content.decode()

    for sort in ("name", "-name", "swap", "-swap"):  # four queries, room for three
        assert 'data-host="newcomer"' not in live(sort)
    Host.objects.create(name="newcomer", last_heartbeat=timezone.now())
    for sort in ("-name", "swap", "-swap"):  # the newest three are still drawn
        assert 'data-host="newcomer"' not in live(sort), sort
    assert 'data-host="newcomer"' in live("name")  # the oldest went, and is drawn again
