"""Odd filter values (huge integers, NUL bytes, times at the ends of the calendar, ids that
are not UUIDs) answer 400 naming the filter, or 200 when they are merely unmatched; never a
500, on PostgreSQL and on SQLite."""

from __future__ import annotations

from .conftest import Api

HUGE = "53363792554639622144"

#: (list, filter, value) that the filter cannot read.
REFUSED = [
    ("/api/v1/audit/", "since", "99999-01-01T00:00:00Z"),
    ("/api/v1/audit/", "since", "2020-13-01T00:00:00Z"),
    ("/api/v1/audit/", "since", "2020-01-01T00:00:00+99:00"),
    ("/api/v1/audit/", "since", "0001-01-01T00:00:00+23:59"),  # before year 1 in UTC
    ("/api/v1/audit/", "since", "9999-12-31T23:59:59-23:59"),  # after 9999 in UTC
    ("/api/v1/audit/", "since", HUGE),
    ("/api/v1/audit/", "since", "\x00"),
    ("/api/v1/audit/", "object_id", HUGE),
    ("/api/v1/audit/", "host", "not-a-uuid"),
    ("/api/v1/audit/", "outcome", "maybe"),
    ("/api/v1/backends/", "host", HUGE),
    ("/api/v1/backends/", "observed_state", "melting"),
    ("/api/v1/backends/", "desired_state", HUGE),
    ("/api/v1/backends/", "name", "\x00"),
    ("/api/v1/jobs/", "kind", "format_c"),
    ("/api/v1/jobs/", "state", HUGE),
    ("/api/v1/jobs/", "backend", "{" + "0" * 40 + "}"),
    ("/api/v1/hosts/", "name__contains", "a\x00b"),
    ("/api/v1/health/", "status", "dire"),
    ("/api/v1/health/", "host", HUGE),
    ("/api/v1/health-events/", "kind", HUGE),
    ("/api/v1/health-events/", "backend", "\x00"),
]

#: (list, filter, value) that are readable and match nothing (or everything).
READ = [
    ("/api/v1/audit/", "since", "0001-01-01T00:00:00Z"),
    ("/api/v1/audit/", "since", "9999-12-31T23:59:59Z"),
    ("/api/v1/audit/", "object_id", "00000000-0000-0000-0000-000000000000"),
    ("/api/v1/backends/", "kind", HUGE),
    ("/api/v1/backends/", "host_name", "%_\\'\""),
    ("/api/v1/hosts/", "name", HUGE),
    ("/api/v1/hosts/", "name__contains", "%"),
    ("/api/v1/health-events/", "to_status", "x" * 2000),
]


def test_an_unreadable_value_answers_400_naming_the_filter(
    api: Api,
) -> None:
    for path, name, value in REFUSED:
        r = api.get(path, params={name: value})
        assert r.status_code == 400, (path, name, value, r.status_code, r.text[:300])
        assert list(r.json()) == [name], (path, name, value, r.json())


def test_a_readable_value_answers_200(api: Api) -> None:
    for path, name, value in READ:
        r = api.get(path, params={name: value})
        assert r.status_code == 200, (path, name, value, r.text[:300])
        assert isinstance(r.json()["results"], list)


def test_a_bad_filter_on_a_detail_lookup_answers_400(api: Api) -> None:
    """DRF filters the queryset of a detail lookup too, so its filters are checked there."""
    server = api
    host = server.get("/api/v1/hosts/", params={"limit": 1}).json()["results"][0]
    r = server.get(f"/api/v1/hosts/{host['id']}/", params={"ordering": "nope"})
    assert r.status_code == 400 and list(r.json()) == ["ordering"]
