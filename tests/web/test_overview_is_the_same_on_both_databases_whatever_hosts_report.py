"""The overview's figures and order are the same on PostgreSQL and on SQLite, whatever the
hosts report and whatever a user types: two hosts reporting bigint's largest figures add up
(SQLite's integer SUM() raised "integer overflow" for every viewer), a fractional figure is
the same integer on both (PostgreSQL rounded 1.5 to 2, SQLite cut it to 1), a host never
heard from sorts as offline (PostgreSQL sorted its NULL after every online host), and a
search holding NUL is named and dropped (PostgreSQL's text cannot hold one: a 500).

Each case runs in this process on the test database (PostgreSQL, as the suite runs), and in
a ``manage.py shell`` over a migrated SQLite file, rolled back after each case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from swapadmin.core.models import Host
from swapadmin.web import fleet

BIGINT_MAX = 2**63 - 1
MANAGE = Path(__file__).resolve().parents[2] / "manage.py"


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

#: Runs one case in a transaction it rolls back, and prints what it returned.
SCRIPT = """
import json
from django.db import transaction
from tests.web.{module} import CASES
with transaction.atomic():
    result = CASES[{case!r}]()
    transaction.set_rollback(True)
print("RESULT=" + json.dumps(result))
"""


def sqlite_env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_URL_FILE")}
    env.update(SWAPADMIN_DATA_DIR=str(data), DJANGO_SETTINGS_MODULE="swapadmin.settings")
    return env


def manage(env: dict[str, str], *command: str) -> str:
    done = subprocess.run(
        [sys.executable, str(MANAGE), *command],
        env=env, cwd=MANAGE.parent, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, f"{command[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def sqlite_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A SQLite database migrated from scratch, for this module's cases."""
    env = sqlite_env(tmp_path_factory.mktemp("overview-sqlite") / "data")
    manage(env, "migrate", "-v0")
    yield env


@pytest.fixture(params=["postgresql", "sqlite"])
def run(request: pytest.FixtureRequest) -> Callable[[str], dict[str, Any]]:
    """Runs a case on one database and gives what it returned, as JSON would."""
    if request.param == "sqlite":
        env = request.getfixturevalue("sqlite_data")
        module = Path(__file__).stem

        def on_sqlite(case: str) -> dict[str, Any]:
            out = manage(env, "shell", "-v0", "-c", SCRIPT.format(module=module, case=case))
            return dict(json.loads(out.rsplit("RESULT=", 1)[1]))

        return on_sqlite
    request.getfixturevalue("db")
    if connection.vendor != "postgresql":
        pytest.skip("the test database is not PostgreSQL (DATABASE_URL unset)")
    return lambda case: json.loads(json.dumps(CASES[case]()))


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
