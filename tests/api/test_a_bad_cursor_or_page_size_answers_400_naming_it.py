"""Cursor paging refuses what it cannot honour with a 400 naming the parameter, on PostgreSQL
and on SQLite, never a 500 or a silent default: a page_size out of 1..MAX_PAGE_SIZE or not a
plain number, a cursor this API did not give (garbage, a forged key out of range or not a
number, an offset), cursor paging mixed with limit/offset, and ``ordering`` with a cursor (a
cursor walks in creation order; any other order has ties a walk cannot page through)."""

from __future__ import annotations

from base64 import b64encode

import pytest

from swapadmin.api.pagination import MAX_PAGE_SIZE

from .conftest import CURSOR_LISTS as LISTS
from .conftest import Api


def forged(text: str) -> str:
    return b64encode(text.encode()).decode()


BAD = {
    "page_size": ["0", str(MAX_PAGE_SIZE + 1), "-1", "abc", "1.5", "+5", " 5", "\u0663",
                  "9" * 100],
    "cursor": ["not-a-cursor", "%%%", "\u00e9", forged("p=abc"), forged("p=-1"),
               forged(f"p={2**63}"), forged("p=1&o=5"), forged("o=x"), forged("r=x")],
}  # fmt: skip


def refusal(api: Api, path: str, **params: str) -> dict[str, list[str]]:
    r = api.get(path, params=params)
    assert r.status_code == 400, (path, params, r.status_code, r.text if hasattr(r, "text")
                                  else r.content[:300])  # fmt: skip
    return dict(r.json())


@pytest.mark.parametrize("name", ["page_size", "cursor"])
def test_a_bad_value_answers_400_naming_it(api: Api, name: str) -> None:
    for value in BAD[name]:
        body = refusal(api, "/api/v1/hosts/", **{name: value})
        assert list(body) == [name], (value, body)
    assert refusal(api, "/api/v1/hosts/", page_size="0") == {
        "page_size": [f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}"]
    }
    assert refusal(api, "/api/v1/hosts/", cursor="nope") == {
        "cursor": ["cursor is not one this API gave: start without it, then follow next"]
    }


def test_every_list_refuses_a_bad_cursor(api: Api) -> None:
    for path in LISTS:
        assert list(refusal(api, path, cursor="garbage!")) == ["cursor"], path
        assert list(refusal(api, path, page_size=str(MAX_PAGE_SIZE + 1))) == ["page_size"], path


def test_the_bounds_are_accepted(api: Api) -> None:
    page = api.get("/api/v1/hosts/", params={"page_size": str(MAX_PAGE_SIZE)}).json()
    assert [h["name"] for h in page["results"]] == ["h0", "h1", "h2"] and page["next"] is None
    page = api.get("/api/v1/hosts/", params={"page_size": "1"}).json()
    assert len(page["results"]) == 1 and page["next"]
    # A key past the last row is a cursor this API could have given: an empty page.
    page = api.get("/api/v1/hosts/", params={"cursor": forged(f"p={2**63 - 1}")}).json()
    assert page["results"] == [] and page["next"] is None


def test_mixing_the_two_styles_names_every_parameter(api: Api) -> None:
    body = refusal(api, "/api/v1/backends/", page_size="10", limit="10")
    assert set(body) == {"page_size", "limit"}
    assert "cannot be combined" in body["limit"][0]
    body = refusal(api, "/api/v1/backends/", cursor="", page_size="5", offset="3")
    assert set(body) == {"cursor", "page_size", "offset"}


def test_ordering_with_a_cursor_is_refused_not_half_kept(api: Api) -> None:
    body = refusal(api, "/api/v1/hosts/", page_size="2", ordering="-name")
    assert list(body) == ["ordering"]
    assert "in the order they were created" in body["ordering"][0]
    # Limit/offset still sorts as asked.
    names = api.get("/api/v1/hosts/", params={"ordering": "-name", "limit": "2"}).json()
    assert [h["name"] for h in names["results"]] == ["h2", "h1"]
