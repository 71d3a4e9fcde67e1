"""A sample never overwrites what a job observed after the sample's reading, the one update
gives each backend its own values, and a state the reading cannot tell keeps the row's: on
PostgreSQL and on SQLite (`make run`) alike, which run the same UPDATE of the backends
(``sampler._observations_update``) from the same JSON rows.

Each case runs in this process on the test database (PostgreSQL, as the suite runs), and in
a ``manage.py shell`` over a migrated SQLite file, rolled back after each case."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from swapadmin.core.models import Backend, Host
from swapadmin.core.sampler import _write_observations
from tests.fixtures.both_databases import case_runner, sqlite_data  # noqa: F401  (a fixture)

BIGINT_MAX = 2**63 - 1

# The test database for every case: asked for only inside ``run``, pytest-django left the
# connection on the database DATABASE_URL names.
pytestmark = pytest.mark.django_db


def backend(host: Host, name: str, observed_at: Any) -> Backend:
    return Backend.objects.create(
        host=host, kind="file", name=name, params={"path": f"/srv/swap/{name}"},
        size_bytes=16 << 20, observed_state=Backend.Observed.ACTIVE, observed_at=observed_at,
        observed_error="it was", used_bytes=4096, active_priority=3,
    )  # fmt: skip


def seen(b: Backend) -> list[Any]:
    b.refresh_from_db()
    return [b.observed_state, b.observed_error, b.used_bytes, b.active_priority]


def a_job_observation_newer_than_the_reading_is_kept() -> dict[str, Any]:
    host = Host.objects.create(name="fresher")
    reading_at = timezone.now()
    stale = backend(host, "stale", reading_at - timedelta(seconds=5))
    fresh = backend(host, "fresh", reading_at + timedelta(seconds=1))  # a job wrote it
    gone = {"observed_state": "ready", "used_bytes": 0, "active_priority": None}
    _write_observations(host.pk, {stale.pk: dict(gone), fresh.pk: dict(gone)}, reading_at)
    stale.refresh_from_db()
    return {
        "stale": seen(stale),
        "fresh": seen(fresh),
        "stale_at": stale.observed_at == reading_at,
    }


def each_backend_gets_its_own_values() -> dict[str, Any]:
    host = Host.objects.create(name="own")
    other = Host.objects.create(name="other")
    reading_at = timezone.now()
    a, b, c = backend(host, "a", None), backend(host, "b", None), backend(other, "c", None)
    observations = {
        a.pk: {"observed_state": "active", "observed_error": "", "used_bytes": 111 * 4096,
               "active_priority": 5},
        # A state the reading cannot tell is left out: the row's stays.
        b.pk: {"used_bytes": BIGINT_MAX, "active_priority": -2},
        # Another host's backend, named by mistake: not this host's to write.
        c.pk: {"observed_state": "absent", "used_bytes": 0, "active_priority": None},
    }  # fmt: skip
    _write_observations(host.pk, observations, reading_at)
    return {"a": seen(a), "b": seen(b), "c": seen(c)}


def a_reading_that_tells_nothing_keeps_use_and_priority() -> dict[str, Any]:
    # The path could not be stat'ed (review 161/3): the reading has neither a state nor used
    # bytes, and the priority, which null cannot stand for (an inactive area's), stays too.
    host = Host.objects.create(name="untold")
    reading_at = timezone.now()
    b = backend(host, "b", None)
    _write_observations(host.pk, {b.pk: {}}, reading_at)
    return {"b": seen(b)}


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    f.__name__: f for f in (a_job_observation_newer_than_the_reading_is_kept,
                            each_backend_gets_its_own_values,
                            a_reading_that_tells_nothing_keeps_use_and_priority)
}  # fmt: skip


@pytest.fixture(params=["postgresql", "sqlite"])
def run(request: pytest.FixtureRequest) -> Callable[[str], dict[str, Any]]:
    return case_runner(request, __name__, CASES)


def test_a_job_observation_newer_than_the_reading_is_kept(run: Any) -> None:
    got = run("a_job_observation_newer_than_the_reading_is_kept")
    assert got["stale"] == ["ready", "it was", 0, None]
    assert got["stale_at"] is True
    assert got["fresh"] == ["active", "it was", 4096, 3]


def test_each_backend_gets_its_own_values_from_one_update(run: Any) -> None:
    got = run("each_backend_gets_its_own_values")
    assert got["a"] == ["active", "", 111 * 4096, 5]
    assert got["b"] == ["active", "it was", BIGINT_MAX, -2]
    assert got["c"] == ["active", "it was", 4096, 3]


def test_a_reading_that_tells_nothing_keeps_use_and_priority(run: Any) -> None:
    assert run("a_reading_that_tells_nothing_keeps_use_and_priority")["b"] == [
        "active", "it was", 4096, 3,
    ]  # fmt: skip
