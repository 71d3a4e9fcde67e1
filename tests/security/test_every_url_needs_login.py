"""Every URL pattern the resolver knows, walked and requested without logging in: pages
redirect to the login page, the API answers 401, and only the login page and the liveness
probe answer. /metrics answers scrapers on SWAPADMIN_METRICS_ALLOWED_IPS (loopback by
default) without a token, so the anonymous client here comes from a documentation address."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RoutePattern, _route_to_regex

#: Logging in, logging out (of nobody) and the liveness probe need no login.
OPEN = {"healthz", "login", "admin:login", "logout", "admin:logout"}
ANONYMOUS = {"REMOTE_ADDR": "192.0.2.50"}
VALUES = {"format": "json", "action": "activate", "app_label": "core", "model_name": "host"}


def walk(patterns, prefix: str = "", ns: str = "") -> Iterator[tuple[str, str, URLPattern]]:
    for p in patterns:
        regex = (
            _route_to_regex(str(p.pattern), isinstance(p, URLResolver) is False)[0]
            if isinstance(p.pattern, RoutePattern)
            else p.pattern.regex.pattern
        )
        regex = prefix + regex.lstrip("^")
        if isinstance(p, URLResolver):
            sub = f"{ns}:{p.namespace}" if ns and p.namespace else (p.namespace or ns)
            yield from walk(p.url_patterns, regex.removesuffix("\\Z").removesuffix("$"), sub)
        elif "(?P<format>" not in regex:  # format suffixes reach the same views
            name = f"{ns}:{p.name}".lstrip(":") if p.name else f"<unnamed {regex}>"
            yield regex, name, p


def example(regex: str) -> str:
    """A URL the regex matches: each named group filled with a value of its kind."""

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        return VALUES.get(name) or (str(uuid.uuid4()) if "uuid" in m.group(2) or name in
                                    ("code", "uuid") else "1")  # fmt: skip

    url = re.sub(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)", fill, regex)
    url = re.sub(r"\\Z|\$|\^", "", url).replace("/?", "/").replace("\\.", ".").replace("\\-", "-")
    url = re.sub(r"\(\?:[^)]*\)\??", "", url)
    return "/" + url


PATTERNS = sorted({(example(r), n) for r, n, _ in walk(get_resolver().url_patterns)})


def test_the_walk_covers_the_routes_we_know():
    names = {n for _, n in PATTERNS}
    assert {"overview", "backend-new", "job-cancel", "api:backend-list", "api:backend-scan",
            "api:schema", "metrics", "healthz", "login", "admin:index"} <= names  # fmt: skip
    for url, name in PATTERNS:
        match = resolve(url)  # each example URL reaches its own pattern
        assert match.view_name == name or name.startswith("<unnamed"), (url, name, match)


def marked(url: str, name: str) -> object:
    return pytest.param(url, name, id=name)


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "name"), [marked(u, n) for u, n in PATTERNS])
def test_it_needs_a_login(client, url, name):
    answered = 0  # requests that reached the login check (not a 405)
    for method in ("get", "post"):
        r = getattr(client, method)(url, **ANONYMOUS)
        if name in OPEN:
            assert r.status_code in (200, 302, 405), (method, r.status_code)
            continue
        if r.status_code == 405:  # a method the URL does not serve, refused with no body
            assert r.content == b"" or b"not allowed" in r.content, r.content[:200]
            continue
        answered += 1
        if url.startswith("/api/") or name == "metrics":
            assert r.status_code == 401, (method, r.status_code, r.content[:200])
        else:
            assert r.status_code == 302, (method, r.status_code, r.content[:200])
            assert "/login/" in r["Location"], r["Location"]
    assert answered or name in OPEN, "neither GET nor POST reached the view's login check"
