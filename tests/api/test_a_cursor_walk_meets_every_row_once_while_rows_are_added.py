"""A walk of a list by cursor (``?page_size=N``, then each ``next``) meets every row exactly
once, in the order the rows were created, even while rows are created between its pages: the
rows made meanwhile come once, at the end. Limit/offset cannot promise that (an insert ahead
of the offset shifts every later page), which is why a client reading a whole list uses it.
Filters narrow a walk; ``previous`` goes back to the page before."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from swapadmin.core.models import AuditEvent, Backend, Host

from .conftest import ApiSession, InProcessApi


def add_host(i: int) -> Host:
    host = Host.objects.create(name=f"walk-{i:03d}")
    for j in range(2):
        Backend.objects.create(host=host, kind="file", name=f"s{j}", params={"path": f"/s{j}"})
    return host


def walk(client: APIClient, url: str, between: Callable[[int], None]) -> list[dict[str, Any]]:
    """Every row of every page; ``between(n)`` runs after the n-th page is read."""
    rows: list[dict[str, Any]] = []
    pages = 0
    while url:
        r = client.get(url)
        assert r.status_code == 200, r.content[:300]
        body = r.json()
        assert "count" not in body  # a cursor page never counts the list
        rows += body["results"]
        pages += 1
        between(pages)
        url = body["next"]
        assert pages < 100, "the walk does not end"
    return rows


def test_a_walk_meets_every_backend_once_while_hosts_are_added(
    victor: User, as_user: Callable[..., APIClient]
) -> None:
    for i in range(9):
        add_host(i)
    before = list(Backend.objects.order_by("pk").values_list("uuid", flat=True))
    added: list[Host] = []

    def grow(page: int) -> None:
        if page <= 4:  # two new backends after each of the first pages
            added.append(add_host(100 + page))

    rows = walk(as_user(victor), "/api/v1/backends/?page_size=4", grow)
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), "a row was met twice"
    made = [str(b.uuid) for h in added for b in h.backends.order_by("pk")]
    # Every row there at the start, in creation order, then every row made during the walk.
    assert ids == [str(u) for u in before] + made
    assert len(made) == 8


def test_limit_offset_would_have_met_a_row_twice(
    victor: User, as_user: Callable[..., APIClient]
) -> None:
    """Why the walk above needs a cursor: the same inserts under limit/offset, in the list's
    default order (host name), push a row already read onto the next page."""
    for i in range(1, 5):
        add_host(i)
    client = as_user(victor)
    first = client.get("/api/v1/backends/?limit=4").json()
    add_host(0)  # sorts first
    second = client.get(first["next"]).json()
    seen = [r["id"] for r in first["results"] + second["results"]]
    assert len(seen) > len(set(seen))


def test_filters_narrow_a_walk_and_previous_goes_back(
    victor: User, as_user: Callable[..., APIClient]
) -> None:
    hosts = [add_host(i) for i in range(6)]
    client = as_user(victor)
    target = hosts[2]
    one = walk(client, f"/api/v1/backends/?page_size=1&host={target.uuid}", lambda _: None)
    assert [r["name"] for r in one] == ["s0", "s1"]
    assert {r["host"] for r in one} == {str(target.uuid)}

    first = client.get("/api/v1/hosts/?page_size=2&name__contains=walk").json()
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    assert [h["name"] for h in second["results"]] == ["walk-002", "walk-003"]
    back = client.get(second["previous"]).json()
    assert back["results"] == first["results"]


def test_jobs_and_audit_walk_too(alice: User, as_user: Callable[..., APIClient]) -> None:
    for i in range(5):
        AuditEvent.objects.create(actor_name="schedule", action=f"a{i}", object_type="host")
    rows = walk(as_user(alice), "/api/v1/audit/?page_size=2&actor=schedule", lambda _: None)
    assert [r["action"] for r in rows] == ["a0", "a1", "a2", "a3", "a4"]
    r = as_user(alice).get("/api/v1/jobs/?cursor=")
    assert r.status_code == 200 and r.json() == {"next": None, "previous": None, "results": []}


def test_a_walk_over_http_on_each_database(api: ApiSession | InProcessApi) -> None:
    """The ``next`` links are absolute URLs a client follows as they are, also through a real
    server (the SQLite one); an empty cursor starts a walk as page_size alone does."""
    names: list[str] = []
    page = api.get("/api/v1/hosts/", params={"cursor": "", "page_size": "1"}).json()
    while True:
        names += [h["name"] for h in page["results"]]
        if page["next"] is None:
            break
        assert page["next"].startswith("http")
        path = page["next"].split("://", 1)[1].split("/", 1)[1]
        page = api.get("/" + path).json()
    assert names == ["h0", "h1", "h2"]
