"""The overview's figures and order are the same on PostgreSQL and on SQLite, whatever the
hosts report and whatever a user types: two hosts reporting bigint's largest figures add up
(SQLite's integer SUM() raised "integer overflow" for every viewer), a fractional figure is
the same integer on both (PostgreSQL rounded 1.5 to 2, SQLite cut it to 1), a host never
heard from sorts as offline (PostgreSQL sorted its NULL after every online host), and a
search holding NUL is named and dropped (PostgreSQL's text cannot hold one: a 500).

Each case runs in this process on the test database (PostgreSQL, as the suite runs), and in
a ``manage.py shell`` over a migrated SQLite file, rolled back after each case."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from swapadmin.core.models import Host
from swapadmin.web import fleet
from tests.fixtures.both_databases import case_runner, sqlite_data  # noqa: F401  (a fixture)

# The PostgreSQL cases reach the database through case_runner, which asks for ``db`` only
# inside the test; marking the module sets the test database up first whatever runs before.
pytestmark = pytest.mark.django_db

BIGINT_MAX = 2**63 - 1


def snapshot(**meminfo: Any) -> dict[str, Any]:
    return {"meminfo": meminfo, "rates": {"pswpin": 1.0, "pswpout": 2.0}}


def huge_hosts() -> dict[str, Any]:
    Host.objects.create(
        name="huge",
        observed=snapshot(mem_total=BIGINT_MAX, swap_total=BIGINT_MAX, swap_free=0),
        last_heartbeat=timezone.now(),
    )
    Host.objects.create(name="small", observed=snapshot(mem_total=5, swap_total=5, swap_free=0))
    got = fleet.totals()
    rows = fleet.page_of(fleet.parse(QueryDict("sort=swap")))
    return {
        **{k: got[k] for k in ("mem_total", "swap_total", "swap_used", "hosts")},
        "order": [h.name for h in rows.hosts],
    }


def fractional_figure() -> dict[str, Any]:
    host = Host.objects.create(
        name="odd", observed=snapshot(mem_total=2.9, swap_total=1.5, swap_free=0.5)
    )
    host.refresh_from_db()
    return {"mem_total": host.snap_mem_total, "swap_total": host.snap_swap_total}


def never_heard_from() -> dict[str, Any]:
    now = timezone.now()
    Host.objects.create(name="a-online", last_heartbeat=now)
    Host.objects.create(name="b-offline", last_heartbeat=now - timedelta(days=1))
    Host.objects.create(name="c-never", last_heartbeat=None)

    def names(query: str) -> list[str]:
        return [h.name for h in fleet.page_of(fleet.parse(QueryDict(query))).hosts]

    return {sort: names(f"sort={sort}") for sort in ("state", "-state")} | {
        "offline": names("state=offline"),
        "online": names("state=online"),
    }


def nul_search() -> dict[str, Any]:
    Host.objects.create(name="anb")
    query = fleet.parse(QueryDict("q=a%00b"))
    return {
        "q": query.q,
        "problems": query.problems,
        "names": [h.name for h in fleet.page_of(query).hosts],
    }


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    f.__name__: f for f in (huge_hosts, fractional_figure, never_heard_from, nul_search)
}


@pytest.fixture(params=["postgresql", "sqlite"])
def run(request: pytest.FixtureRequest) -> Callable[[str], dict[str, Any]]:
    return case_runner(request, __name__, CASES)


def test_two_huge_hosts_add_up(run: Callable[[str], dict[str, Any]]) -> None:
    got = run("huge_hosts")
    total = BIGINT_MAX + 5  # as a float sum has it: exact to a few thousand at 2**63
    for name in ("mem_total", "swap_total", "swap_used"):
        assert abs(got[name] - total) <= 2**12, (name, got[name])
    assert got["hosts"] == 2
    assert got["order"] == ["huge", "small"]  # sorted by the figure, not an error


def test_a_fractional_figure_is_the_same_integer(run: Callable[[str], dict[str, Any]]) -> None:
    assert run("fractional_figure") == {"mem_total": 2, "swap_total": 1}


def test_a_host_never_heard_from_sorts_as_offline(run: Callable[[str], dict[str, Any]]) -> None:
    got = run("never_heard_from")
    assert got["state"] == ["b-offline", "c-never", "a-online"]
    assert got["-state"] == ["a-online", "b-offline", "c-never"]
    assert got["offline"] == ["b-offline", "c-never"]
    assert got["online"] == ["a-online"]


def test_a_search_holding_nul_is_named_and_dropped(run: Callable[[str], dict[str, Any]]) -> None:
    got = run("nul_search")
    assert got["q"] == ""
    assert got["problems"] == ["the search holds a NUL character, which no name has: not searched"]
    assert got["names"] == ["anb"]


def test_the_page_and_its_live_region_answer_a_nul_search(as_user: Any, victor: User) -> None:
    Host.objects.create(name="anb")
    client = as_user(victor)
    url = reverse("overview") + "?q=a%00b&sort=state"
    page = client.get(url)
    assert page.status_code == 200
    assert "the search holds a NUL character" in page.content.decode()
    assert 'data-host="anb"' in page.content.decode()
    live = client.get(url, headers={"HX-Request": "true", "HX-Target": "live"})
    assert live.status_code == 200
    assert 'data-host="anb"' in live.content.decode()
