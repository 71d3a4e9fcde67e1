"""limit, offset and ordering: a value out of range or unreadable answers 400 naming the
parameter, on PostgreSQL and on SQLite, never a 500 (issue 11: ``limit=53363792554639622144``
was SQLite's "datatype mismatch"), and the bounds themselves are accepted."""

from __future__ import annotations

import pytest

from swapadmin.api.pagination import MAX_LIMIT, MAX_OFFSET

from .conftest import CURSOR_LISTS, Api

LISTS = [*CURSOR_LISTS, "/api/v1/tokens/"]  # tokens: limit/offset only (the key is a digest)

BAD_VALUES = {
    "limit": [
        "53363792554639622144",
        str(MAX_LIMIT + 1),
        "0",
        "-1",
        "abc",
        "1.5",
        "1e3",
        "+5",
        " 5",
        "1_0",
        "\u0663",  # ARABIC-INDIC DIGIT THREE: int() reads it
        "9" * 100,
    ],
    "offset": [
        "53363792554639622144",
        str(MAX_OFFSET + 1),
        str(2**63),
        "-1",
        "x",
        "0x10",
    ],
}


def refusal(server: Api, path: str, **params: str) -> dict[str, list[str]]:
    r = server.get(path, params=params)
    assert r.status_code == 400, (path, params, r.status_code, r.text[:300])
    assert r.headers["Content-Type"] == "application/json"
    return dict(r.json())


def test_the_reported_request_answers_400(api: Api) -> None:
    body = refusal(api, "/api/v1/hosts/", ordering="-name", limit="53363792554639622144")
    assert body == {"limit": [f"limit must be a whole number from 1 to {MAX_LIMIT}"]}
    for path in LISTS:
        assert list(refusal(api, path, offset=str(2**64))) == ["offset"]


@pytest.mark.parametrize("name", ["limit", "offset"])
def test_a_bad_value_answers_400_naming_the_parameter(api: Api, name: str) -> None:
    for value in BAD_VALUES[name]:
        body = refusal(api, "/api/v1/hosts/", **{name: value})
        assert list(body) == [name], (value, body)
        assert body[name] == [f"{name} must be a whole number from {int(name == 'limit')} to "
                              f"{MAX_LIMIT if name == 'limit' else MAX_OFFSET}"]  # fmt: skip


def test_both_bad_parameters_are_named_in_one_answer(api: Api) -> None:
    body = refusal(api, "/api/v1/hosts/", limit="0", offset="-1")
    assert set(body) == {"limit", "offset"}


def test_the_bounds_themselves_are_accepted(api: Api) -> None:
    server = api
    page = server.get("/api/v1/hosts/", params={"limit": MAX_LIMIT}).json()
    assert page["count"] == 3 and len(page["results"]) == 3
    page = server.get("/api/v1/hosts/", params={"limit": 1, "offset": 2, "ordering": "name"})
    assert [h["name"] for h in page.json()["results"]] == ["h2"]
    # Past the last row: an empty page, and the link back stays in range.
    page = server.get("/api/v1/hosts/", params={"offset": MAX_OFFSET}).json()
    assert page["count"] == 3 and page["results"] == [] and page["next"] is None
    assert f"offset={MAX_OFFSET - 50}" in page["previous"]


def test_an_empty_value_is_the_default(api: Api) -> None:
    page = api.get("/api/v1/hosts/?limit=&offset=").json()
    assert page["count"] == 3 and len(page["results"]) == 3


def test_an_unknown_ordering_answers_400_listing_the_known_ones(
    api: Api,
) -> None:
    server = api
    body = refusal(server, "/api/v1/hosts/", ordering="name,-nmae")
    assert body == {
        "ordering": [
            "cannot order by -nmae: use name, -name, last_heartbeat, -last_heartbeat, "
            "created_at, -created_at"
        ]
    }
    for odd in ["-", "--name", "pk", "host__name", "name;drop"]:
        assert list(refusal(server, "/api/v1/hosts/", ordering=odd)) == ["ordering"], odd
    names = server.get("/api/v1/hosts/", params={"ordering": "-name, created_at"}).json()
    assert [h["name"] for h in names["results"]] == ["h2", "h1", "h0"]
