"""The overview's host table at fleet scale: a page of 50 hosts, sorted, filtered and searched
on the server from the query string, so the rows drawn are exactly the hosts asked for; the
live region polls the same query; a value that is not a choice is named, never a 500."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from swapadmin.core.models import Backend, Host
from swapadmin.health.models import BackendHealth, HostHealth
from swapadmin.web.fleet import PAGE_SIZE

from .conftest import htmx

GIB = 1 << 30


def snapshot(swap_used_mib: int, available_gib: int) -> dict[str, Any]:
    return {
        "meminfo": {"mem_total": 16 * GIB, "mem_available": available_gib * GIB,
                    "swap_total": 8 * GIB, "swap_free": 8 * GIB - (swap_used_mib << 20)},
        "rates": {"pswpin": 1.0, "pswpout": 2.0},
    }  # fmt: skip


def make_host(name: str, *, online: bool = True, used: int = 0, available: int = 8) -> Host:
    beat = timezone.now() - (timedelta(0) if online else timedelta(days=1))
    return Host.objects.create(name=name, observed=snapshot(used, available), last_heartbeat=beat)


def drawn(body: str) -> list[str]:
    """The host rows the table drew, in order."""
    return re.findall(r'<tr data-host="([^"]+)"', body)


@pytest.fixture
def viewer(as_user: Any, victor: User) -> Client:
    return as_user(victor)


def get(client: Client, **params: Any) -> str:
    r = client.get(reverse("overview"), params)
    assert r.status_code == 200
    return r.content.decode()


@pytest.fixture
def fleet(db: None) -> list[str]:
    """120 hosts, h000 to h119, with distinct swap use (h000 most) and memory available."""
    names = [f"h{i:03d}" for i in range(120)]
    for i, name in enumerate(names):
        make_host(name, used=1000 - i, available=1 + i % 7)
    return names


def test_a_page_holds_fifty_hosts_in_name_order(viewer: Client, fleet: list[str]) -> None:
    assert drawn(get(viewer)) == fleet[:PAGE_SIZE]
    assert drawn(get(viewer, page=2)) == fleet[PAGE_SIZE : 2 * PAGE_SIZE]
    body = get(viewer, page=3)
    assert drawn(body) == fleet[2 * PAGE_SIZE :]
    assert "101–120 of 120 hosts" in body


def test_a_page_past_the_end_shows_the_last_and_says_so(viewer: Client, fleet: list[str]) -> None:
    body = get(viewer, page=99)
    assert drawn(body) == fleet[2 * PAGE_SIZE :]
    assert "there is no page 99: showing the last, 3" in body


def test_a_page_that_is_not_a_number_shows_the_first(viewer: Client, fleet: list[str]) -> None:
    body = get(viewer, page="two")
    assert drawn(body) == fleet[:PAGE_SIZE]
    assert "page &#x27;two&#x27; is not a number: showing the first" in body


def test_it_sorts_by_swap_used_and_back(viewer: Client, fleet: list[str]) -> None:
    assert drawn(get(viewer, sort="swap")) == fleet[:PAGE_SIZE]  # h000 uses the most
    assert drawn(get(viewer, sort="-swap")) == fleet[::-1][:PAGE_SIZE]


def test_it_sorts_by_memory_available_then_name(viewer: Client, fleet: list[str]) -> None:
    expected = sorted(fleet, key=lambda n: (1 + int(n[1:]) % 7, n))
    assert drawn(get(viewer, sort="memory", page=2)) == expected[PAGE_SIZE : 2 * PAGE_SIZE]


def test_it_sorts_offline_hosts_first(viewer: Client, fleet: list[str]) -> None:
    make_host("zz-down", online=False)
    assert drawn(get(viewer, sort="state"))[0] == "zz-down"
    assert "zz-down" not in drawn(get(viewer, sort="-state"))


def test_it_filters_by_worker_state(viewer: Client, fleet: list[str]) -> None:
    make_host("down-a", online=False)
    make_host("down-b", online=False)
    assert drawn(get(viewer, state="offline")) == ["down-a", "down-b"]
    online = get(viewer, state="online", page=3)
    assert drawn(online) == fleet[2 * PAGE_SIZE :]


def test_it_filters_and_sorts_by_health(viewer: Client, host_row: Host) -> None:
    warned = make_host("warned")
    HostHealth.objects.create(host=warned, status="warn", summary="PSI some 30%")
    failing = make_host("failing")
    bad = Backend.objects.create(host=failing, kind="file", name="s", params={"path": "/s"})
    BackendHealth.objects.create(backend=bad, status="fail", summary="bad pages")
    down = make_host("down", online=False)
    gone = Backend.objects.create(
        host=make_host("destroyed-fail"), kind="file", name="s", params={"path": "/s"},
        desired_state="absent", observed_state="absent",
    )  # fmt: skip
    BackendHealth.objects.create(backend=gone, status="fail", summary="old news")
    assert drawn(get(viewer, health="fail")) == ["down", "failing"]
    assert drawn(get(viewer, health="warn")) == ["warned"]
    assert drawn(get(viewer, health="ok")) == ["destroyed-fail", "testhost"]
    assert drawn(get(viewer, sort="health")) == [
        "down", "failing", "warned", "destroyed-fail", "testhost",
    ]  # fmt: skip
    assert down.pk


def test_it_filters_by_kind_of_backend(viewer: Client, fleet: list[str]) -> None:
    zram_host = Host.objects.get(name="h042")
    Backend.objects.create(host=zram_host, kind="zram", name="z", params={})
    Backend.objects.create(host=Host.objects.get(name="h007"), kind="file", name="f",
                           params={"path": "/f"})  # fmt: skip
    assert drawn(get(viewer, kind="zram")) == ["h042"]
    assert drawn(get(viewer, kind="file")) == ["h007"]


def test_it_searches_names_and_labels(viewer: Client, fleet: list[str]) -> None:
    Backend.objects.create(host=Host.objects.get(name="h100"), kind="file", name="fast",
                           params={"path": "/f"}, label="nvme-fast")  # fmt: skip
    assert drawn(get(viewer, q="h01")) == [f"h01{i}" for i in range(10)]
    assert drawn(get(viewer, q="NVME")) == ["h100"]
    assert drawn(get(viewer, q="h11", sort="-swap")) == [f"h1{i}" for i in range(19, 9, -1)]
    body = get(viewer, q="nothing-like-it")
    assert drawn(body) == []
    assert "No host matches" in body


def test_a_value_that_is_not_a_choice_is_named_and_left_out(
    viewer: Client, fleet: list[str]
) -> None:
    body = get(viewer, sort="price", state="sleeping", health="great", kind="floppy")
    assert drawn(body) == fleet[:PAGE_SIZE]
    assert "unknown sort &#x27;price&#x27;: sorted by name" in body
    assert "state &#x27;sleeping&#x27; is not one of online, offline" in body
    assert "health &#x27;great&#x27; is not one of fail, warn, ok" in body
    assert "kind &#x27;floppy&#x27; is not one of" in body


def test_the_live_region_polls_the_same_query(viewer: Client, fleet: list[str]) -> None:
    body = viewer.get(reverse("overview"), {"q": "h0", "sort": "swap", "page": 2}).content
    assert b'hx-get="/?q=h0&amp;sort=swap&amp;page=2"' in body
    r = viewer.get(reverse("overview") + "?q=h0&sort=swap&page=2", headers=htmx("live"))
    part = r.content.decode()
    assert part.lstrip().startswith('<section id="live"')
    assert drawn(part) == drawn(body.decode()) == fleet[50:100]


def test_the_page_links_keep_the_search_and_sort(viewer: Client, fleet: list[str]) -> None:
    body = get(viewer, sort="-name")
    assert 'href="?sort=-name&amp;page=2" data-page="2"' in body
    assert 'href="?sort=-name&amp;page=3" data-page="3"' in body
    # A heading's link sorts from the first page, keeping the search.
    body = get(viewer, q="h0", page=2)
    assert 'href="?q=h0&amp;sort=swap" data-sort="swap"' in body
