"""GET /api/v1/hosts/{uuid}/history/ and /api/v1/backends/{uuid}/history/: a range of the
stored samples averaged at a step, read from the resolution that covers the range (raw for
the last 2 hours, minute averages for 2 days, hour averages beyond), plus the newest rows
not rolled up yet. Three days of readings are stored, then rolled up and pruned by the
retention task's own code; every point is checked against the raw readings it stands for.
A bad range or step is a 400 naming the parameter."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from swapadmin.core import retention
from swapadmin.core.models import Backend, Host, Sample
from swapadmin.core.sampler import Reading, take_sample
from tests.fixtures.tokens import token_for

FIELDS = retention.NUMBERS
INTEGERS = retention.INTEGERS | {"swap_used"}
SPACING = timedelta(seconds=30)
#: When the retention task last ran: the readings after it are not rolled up yet.
ROLLED_AGO = timedelta(minutes=10)

Row = tuple[datetime, dict[str, float], int | None]


@dataclass(frozen=True)
class Stored:
    host: Host
    backend: Backend
    now: datetime
    #: Every raw reading as stored before the roll-up: (at, figures, backend's used bytes).
    raw: list[Row]


@pytest.fixture
def stored(host_row: Host, make_backend: Callable[..., Backend]) -> Stored:
    now = timezone.now()
    backend = make_backend("s0")
    key = str(backend.uuid)
    # From a minute's start, so that each minute holds two readings, and a roll-up of a
    # minute averages as many readings as any other.
    start = minute(now) - timedelta(days=3)
    made = []
    for i in range(int((now - start) / SPACING)):
        on = (i // 20) % 2 == 0  # the area active 10 minutes, then off 10 minutes
        made.append(
            Sample(
                host=host_row,
                at=start + i * SPACING,
                mem_total=8 << 30,
                mem_available=(4 << 30) + i * 4096,
                swap_total=1 << 30,
                swap_free=(1 << 30) - (i % 1000) * 4096,
                swap_cached=i * 7,
                pswpin_rate=i / 7,
                pswpout_rate=i / 3,
                psi_some_avg10=(i % 100) / 10,
                psi_full_avg10=(i % 50) / 10,
                backends={key: i * 4096 + 1} if on else {},
            )  # fmt: skip
        )
    Sample.objects.bulk_create(made)
    take_sample(host_row, Reading())  # the newest, read from this kernel by the sampler
    raw = []
    for at, *values, backends in (
        Sample.objects.filter(host=host_row).order_by("at").values_list("at", *FIELDS, "backends")
    ):
        figures = dict(zip(FIELDS, values, strict=True))
        figures["swap_used"] = figures["swap_total"] - figures["swap_free"]
        raw.append((at, figures, backends.get(key)))
    retention.roll_up(now - ROLLED_AGO)
    assert not Sample.objects.filter(resolution="raw", at__lt=now - timedelta(hours=2, minutes=11))
    return Stored(host_row, backend, now, raw)


def means(raw: list[Row], since: datetime, until: datetime, step: timedelta) -> list[dict]:
    """What each step should read: the plain mean of the raw readings in it."""
    buckets: dict[int, list[dict[str, float]]] = defaultdict(list)
    for at, figures, _ in raw:
        if since <= at < until:
            buckets[int((at - since) / step)].append(figures)
    out = []
    for i, group in sorted(buckets.items()):
        point: dict[str, Any] = {"at": since + i * step}
        for name in group[0]:
            mean = sum(g[name] for g in group) / len(group)
            point[name] = round(mean) if name in INTEGERS else mean
        out.append(point)
    return out


def at(point: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(point["at"].replace("Z", "+00:00"))


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def get(client: APIClient, path: str, **params: Any) -> dict[str, Any]:
    r = client.get(path, params)
    assert r.status_code == 200, r.content
    return dict(r.json())


def assert_points(got: list[dict], expected: list[dict], tolerance: float = 0) -> None:
    assert [at(p) for p in got] == [e["at"] for e in expected]
    for point, want in zip(got, expected, strict=True):
        for name, value in want.items():
            if name != "at":
                assert point[name] == pytest.approx(value, rel=1e-9, abs=tolerance), (name, point)


def test_a_recent_range_at_a_fine_step_averages_raw_readings(
    stored: Stored, victor: User, as_user: Callable[..., APIClient]
) -> None:
    since, until, step = stored.now - timedelta(minutes=47), stored.now, 45
    body = get(
        as_user(victor), f"/api/v1/hosts/{stored.host.uuid}/history/",
        since=iso(since), until=iso(until), step=step,
    )  # fmt: skip
    assert body["resolution"] == "raw" and body["step"] == step
    assert body["host"] == str(stored.host.uuid)
    expected = means(stored.raw, since, until, timedelta(seconds=step))
    assert len(expected) >= 60  # 47 minutes of 45 s steps
    assert_points(body["points"], expected)


def test_a_day_at_a_minute_step_reads_minute_averages_then_the_newest_readings(
    stored: Stored, victor: User, as_user: Callable[..., APIClient]
) -> None:
    since = minute(stored.now) - timedelta(days=1)
    body = get(
        as_user(victor), f"/api/v1/hosts/{stored.host.uuid}/history/",
        since=iso(since), until=iso(stored.now), step=60,
    )  # fmt: skip
    assert body["resolution"] == "1m"
    # Each minute is one minute row, or, after the retention task's last run, the mean of
    # the raw readings in it: either way the mean of the raw readings of that minute.
    expected = means(stored.raw, since, stored.now, timedelta(minutes=1))
    assert len(expected) == 24 * 60 + 1 or len(expected) == 24 * 60
    assert_points(body["points"], expected)
    newest = [p for p in body["points"] if at(p) >= stored.now - ROLLED_AGO]
    assert len(newest) >= 9  # not rolled up yet, yet there, with no gap


def test_a_range_older_than_the_finer_rows_reads_a_coarser_resolution(
    stored: Stored, victor: User, as_user: Callable[..., APIClient]
) -> None:
    client, path = as_user(victor), f"/api/v1/hosts/{stored.host.uuid}/history/"
    # Raw readings are kept 2 hours: 3 hours back at 10 s reads minute averages.
    three_hours = get(client, path, since=iso(stored.now - timedelta(hours=3)), step=10)
    assert three_hours["resolution"] == "1m"
    # Minute averages are kept 2 days: 3 days back, even at a minute step, reads hours.
    since = stored.now.replace(minute=0, second=0, microsecond=0) - timedelta(days=3)
    for step in (60, 3600):
        body = get(client, path, since=iso(since), until=iso(stored.now), step=step)
        assert body["resolution"] == "1h", step
        points = body["points"]
        times = [at(p) for p in points]
        assert times == sorted(set(times))
        # The newest part, not rolled up yet, is there: the last step has a point.
        assert times[-1] > stored.now - timedelta(seconds=step, minutes=1)
    # Every complete hour of the 3 days: the mean of its raw readings (hour rows average
    # minute rows of whole bytes, hence a byte of slack).
    hourly = means(stored.raw, since, stored.now, timedelta(hours=1))
    rolled = {e["at"]: e for e in hourly if e["at"] < stored.now - ROLLED_AGO - timedelta(hours=1)}
    got = {at(p): p for p in points if at(p) in rolled}
    assert len(got) == len(rolled) >= 70
    assert_points(list(got.values()), list(rolled.values()), tolerance=1)


def test_a_backends_history_has_points_only_while_it_was_active(
    stored: Stored, victor: User, as_user: Callable[..., APIClient]
) -> None:
    # Minute rows are stamped with their minute's start: steps that start on a minute hold
    # the same readings, rolled up or not.
    since, step = minute(stored.now) - timedelta(minutes=100), timedelta(minutes=5)
    body = get(
        as_user(victor), f"/api/v1/backends/{stored.backend.uuid}/history/",
        since=iso(since), until=iso(stored.now), step=300,
    )  # fmt: skip
    assert body["backend"] == str(stored.backend.uuid)
    assert body["host"] == str(stored.host.uuid)
    assert body["resolution"] == "1m"
    active = [(t, {"used_bytes": used}, None) for t, _, used in stored.raw if used is not None]
    expected = means(active, since, stored.now, step)
    # 10 minutes on, 10 off, over 20 steps of 5: steps wholly off have no point.
    assert 10 <= len(expected) <= 15
    # Minute rows hold whole bytes, averaged again: a byte of slack.
    assert_points(body["points"], expected, tolerance=1)


def test_times_may_be_unix_seconds_and_the_defaults_are_the_last_hour(
    stored: Stored, victor: User, as_user: Callable[..., APIClient]
) -> None:
    client, path = as_user(victor), f"/api/v1/hosts/{stored.host.uuid}/history/"
    since, until = stored.now - timedelta(minutes=30), stored.now
    by_iso = get(client, path, since=iso(since), until=iso(until), step=60)
    by_unix = get(client, path, since=f"{since.timestamp():.6f}", until=str(until.timestamp()))
    assert by_unix["since"] == by_iso["since"]
    assert by_unix["step"] == 8  # 30 minutes in about 240 points
    plain = get(client, path)
    span = datetime.fromisoformat(plain["until"]) - datetime.fromisoformat(plain["since"])
    assert (span, plain["step"], plain["resolution"]) == (timedelta(hours=1), 15, "raw")
    assert at(plain["points"][-1]) >= stored.now - timedelta(seconds=15)


@pytest.mark.parametrize(
    ("params", "param", "says"),
    [
        ({"since": "yesterday"}, "since", "not a time"),
        ({"until": "2026-13-01T00:00:00Z"}, "until", "not a time"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since", "before"),
        ({"since": "2026-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since", "before"),
        ({"step": "0"}, "step", "greater than or equal to 1"),
        ({"step": "1.5"}, "step", "valid integer"),
        ({"step": str(10**12)}, "step", "less than or equal to"),
        ({"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z", "step": "1"},
         "step", "at least 8 seconds"),
        ({"until": "0001-01-01T00:10:00Z"}, "until", "out of range"),
        ({"since": "9999-12-31T23:59:00-23:59", "until": "9999-12-31T23:59:59Z"}, "since", ""),
        ({"since": "1e400"}, "since", ""),
    ],
)  # fmt: skip
def test_a_bad_range_or_step_is_a_400_naming_the_parameter(
    host_row: Host,
    backend: Backend,
    victor: User,
    as_user: Callable[..., APIClient],
    params: dict[str, str],
    param: str,
    says: str,
) -> None:
    client = as_user(victor)
    for path in (
        f"/api/v1/hosts/{host_row.uuid}/history/",
        f"/api/v1/backends/{backend.uuid}/history/",
    ):
        r = client.get(path, params)
        assert r.status_code == 400, r.content
        assert list(r.json()) == [param]
        assert says in r.json()[param][0]


def test_reading_history_needs_the_viewer_role(
    host_row: Host, backend: Backend, people: dict[str, User | None],
    as_user: Callable[..., APIClient],
) -> None:  # fmt: skip
    for path in (
        f"/api/v1/hosts/{host_row.uuid}/history/",
        f"/api/v1/backends/{backend.uuid}/history/",
    ):
        codes = {name: as_user(user).get(path).status_code for name, user in people.items()}
        assert codes == {"anonymous": 401, "nora": 403, "victor": 200, "oscar": 200, "alice": 200}
    alice = as_user(people["alice"])
    for kind in ("hosts", "backends"):
        assert alice.get(f"/api/v1/{kind}/{host_row.uuid.hex[::-1]}/history/").status_code == 404


def test_its_answers_are_the_ones_the_openapi_schema_documents(
    api_server: str, alice: User, host_row: Host, make_backend: Callable[..., Backend]
) -> None:
    from .test_schema_conformance import CHECKS, load_schema

    backend = make_backend("s0")
    take_sample(host_row, Reading())
    Sample.objects.create(
        host=host_row, at=timezone.now() - timedelta(seconds=5), backends={str(backend.uuid): 4096}
    )
    token = token_for(alice)
    schema = load_schema(api_server, token)
    headers = {"Authorization": f"Token {token}"}
    for path, uuid in (
        ("/api/v1/hosts/{uuid}/history/", host_row.uuid),
        ("/api/v1/backends/{uuid}/history/", backend.uuid),
    ):
        operation = schema[path]["GET"]
        for query, status in (({"step": 5}, 200), ({"step": 0}, 400), ({}, 200)):
            case = operation.make_case(path_parameters={"uuid": str(uuid)}, query=query)
            response = case.call(headers=headers)
            assert response.status_code == status, response.text
            case.validate_response(response, checks=CHECKS)
            if status == 200:
                assert response.json()["points"], path  # a point's shape is checked too


def test_digits_other_than_ascii_are_no_unix_seconds(
    stored: Stored, victor: User, as_user: Callable[..., APIClient]
) -> None:
    """str.isdigit takes Arabic-Indic and full-width digits: since=٣ meant 1970."""
    for odd in ("٣", "３"):
        r = as_user(victor).get(f"/api/v1/hosts/{stored.host.uuid}/history/", {"since": odd})
        assert r.status_code == 400 and "since" in r.json(), (odd, r.content)
