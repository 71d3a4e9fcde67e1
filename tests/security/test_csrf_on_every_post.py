"""CSRF on every POST of a logged-in browser session: each URL the resolver knows, posted as
a form and as htmx (``HX-Request``) without the token, is refused with 403; the same post
with the token (as the pages send it: the form field, or htmx's ``X-CSRFToken`` header from
``hx-headers``) is not refused for CSRF. The API is checked too: a session-authenticated
API request needs the token like a page (token-authenticated clients need none)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.security.test_every_url_needs_login import PATTERNS

#: Logging in is CSRF-protected too, but needs no session: it is checked on its own below.
SKIP = {"healthz", "metrics", "login", "admin:login"}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def browser(alice) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    return client


def csrf_token(client: Client) -> str:
    client.get("/" if "_auth_user_id" in client.session else "/login/")  # renders the token
    return client.cookies["csrftoken"].value


POSTS = [(u, n) for u, n in PATTERNS if n not in SKIP]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "name"), POSTS, ids=[n for _, n in POSTS])
def test_a_post_needs_the_token(browser, url, name):
    refusals = []
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        r = browser.post(url, {"name": "x"}, **headers)
        if r.status_code == 405:
            return  # the URL serves no POST at all
        assert r.status_code == 403, (headers, r.status_code, r.content[:300])
        refusals.append(r)
    # Pages show Django's CSRF failure; the API says "CSRF Failed" (except the Swagger page,
    # whose renderer shows the site's 403 page).
    if name != "api:docs":
        assert all(b"CSRF" in r.content for r in refusals), refusals[0].content[:300]
    # The token is what was missing: with it (the form field, or htmx's header) no 403.
    token = csrf_token(browser)
    form = browser.post(url, {"name": "x", "csrfmiddlewaretoken": token})
    htmx = browser.post(url, {"name": "x"}, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token)
    for r in (form, htmx):  # a 403 may remain, for a role: never for CSRF
        assert not (r.status_code == 403 and b"CSRF" in r.content), r.content[:300]


@pytest.mark.django_db
def test_logging_in_needs_the_token(alice):
    client = Client(enforce_csrf_checks=True)
    r = client.post("/login/", {"username": "alice", "password": "correct horse battery staple"})
    assert r.status_code == 403 and "_auth_user_id" not in client.session
    token = csrf_token(client)
    r = client.post(
        "/login/",
        {"username": "alice", "password": "correct horse battery staple",
         "csrfmiddlewaretoken": token},
    )  # fmt: skip
    assert r.status_code == 302 and client.session["_auth_user_id"] == str(alice.pk)
