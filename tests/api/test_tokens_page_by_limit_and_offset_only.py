"""/api/v1/tokens/ pages by limit and offset only: a token's key is its secret's digest, so a
cursor (which carries the key) wrote other users' digests into URLs and logs, and could not be
followed (cursors check for a number). ``cursor`` or ``page_size`` there answers 400 saying
so, and the cursor paginator refuses any list whose key is not an integer."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from swapadmin.accounts.models import ApiToken
from swapadmin.api.pagination import BoundedCursorPagination, ListPagination
from swapadmin.core.models import Host

from .conftest import Api, InProcessApi

TOKENS = "/api/v1/tokens/"
REFUSAL = ["this list pages with limit and offset only"]


def test_a_cursor_or_page_size_is_refused_naming_it(api: Api) -> None:
    for params in ({"page_size": "1"}, {"cursor": ""}, {"cursor": "cD0x"}):
        r = api.get(TOKENS, params=params)
        assert r.status_code == 400, (params, r.status_code)
        assert r.json() == {name: REFUSAL for name in params}
    r = api.get(TOKENS, params={"page_size": "1", "cursor": "x"})
    assert r.json() == {"page_size": REFUSAL, "cursor": REFUSAL}


def test_limit_and_offset_page_the_tokens(api: Api) -> None:
    first = api.get(TOKENS, params={"limit": "1"}).json()
    assert first["count"] >= 1 and len(first["results"]) == 1
    if first["next"] is not None:  # one token on SQLite's server, more here
        assert "offset=1" in first["next"] and "cursor" not in first["next"]
    assert api.get(TOKENS, params={"limit": "1", "offset": "5000"}).json()["results"] == []


@pytest.mark.django_db
def test_no_digest_is_in_a_page(api: Api) -> None:
    if not isinstance(api, InProcessApi):
        pytest.skip("the digests are read from this process's database")
    body = api.get(TOKENS, params={"limit": "1000"}).content.decode()
    digests = list(ApiToken.objects.values_list("digest", flat=True))
    assert digests and not any(d in body for d in digests)


def cursor_request() -> Request:
    return Request(APIRequestFactory().get("/", {"page_size": "1"}))


def test_the_cursor_paginator_refuses_a_key_that_is_not_an_integer() -> None:
    for paginator in (BoundedCursorPagination(), ListPagination()):
        with pytest.raises(ImproperlyConfigured, match="ApiToken's key is not an integer"):
            paginator.paginate_queryset(ApiToken.objects.all(), cursor_request())


@pytest.mark.django_db
def test_the_cursor_paginator_takes_an_integer_key() -> None:
    Host.objects.create(name="h0")
    page = BoundedCursorPagination().paginate_queryset(Host.objects.all(), cursor_request())
    assert [h.name for h in page or []] == ["h0"]
