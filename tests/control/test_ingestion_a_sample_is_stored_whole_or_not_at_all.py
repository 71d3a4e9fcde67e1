"""A sample the database refuses (here a figure past a bigint) writes nothing: no Sample
row, no snapshot or heartbeat, no backend state, with no transaction of the caller's around
it (as the Sampler calls it: a write committed before the refusal would stay). On PostgreSQL
the whole sample is one statement and the backends' read one query, two round trips in all,
whatever the backends' states (a field the read left out was loaded for each backend not in
/proc/swaps, one more query each)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backends.kernel import MemInfo, SwapArea
from swapadmin.core.models import Backend, Host, Sample
from swapadmin.core.sampler import HostReading, store_sample

pytestmark = [pytest.mark.django_db]


def reading(mem_total: int, path: str) -> HostReading:
    return HostReading(
        at=timezone.now(),
        meminfo=MemInfo(mem_total=mem_total, mem_available=1 << 30, swap_total=1 << 30,
                        swap_free=1 << 29, swap_cached=0),
        psi=None,
        areas=[SwapArea(path=path, type="file", size_bytes=1 << 30, used_bytes=1 << 20,
                        priority=5)],
    )  # fmt: skip


@pytest.fixture
def ready(host_row) -> Backend:
    return Backend.objects.create(
        host=host_row, kind="file", name="a", params={"path": "/nowhere/swap/a"},
        size_bytes=1 << 30, observed_state="ready",
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_refused_sample_changes_nothing(host_row, ready):
    day_ago = timezone.now() - timedelta(days=1)
    Host.objects.filter(pk=host_row.pk).update(last_heartbeat=day_ago, observed={"old": 1})

    # PostgreSQL refuses it; SQLite's driver, before it gets there.
    with pytest.raises((DatabaseError, OverflowError)):
        store_sample(host_row, reading(1 << 64, "/nowhere/swap/a"))

    ready.refresh_from_db()
    host = Host.objects.get(pk=host_row.pk)
    assert (ready.observed_state, ready.used_bytes, ready.observed_at) == ("ready", 0, None)
    assert (host.observed, host.last_heartbeat) == ({"old": 1}, day_ago)
    assert not Sample.objects.filter(host=host_row).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement write")
def test_on_postgresql_a_sample_is_two_round_trips(host_row, ready):
    with CaptureQueriesContext(connection) as queries:
        sample = store_sample(host_row, reading(16 << 30, "/nowhere/swap/a"))

    assert len(queries.captured_queries) == 2, [q["sql"][:60] for q in queries]
    ready.refresh_from_db()
    assert (ready.observed_state, ready.used_bytes, ready.active_priority) == ("active", 1 << 20, 5)
    assert Sample.objects.get(pk=sample.pk).mem_total == 16 << 30


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement write")
@pytest.mark.parametrize("state", ["ready", "absent", "error"])
def test_a_backend_not_in_proc_swaps_costs_no_round_trip(host_row, ready, state):
    Backend.objects.filter(pk=ready.pk).update(observed_state=state, observed_error="x")
    store_sample(host_row, reading(16 << 30, "/nowhere/swap/a"))  # the first: settles them
    other = Backend.objects.create(
        host=host_row, kind="file", name="b", params={"path": "/nowhere/swap/b"},
        size_bytes=1 << 30, observed_state=state, observed_error="x",
    )  # fmt: skip

    with CaptureQueriesContext(connection) as queries:
        store_sample(host_row, reading(16 << 30, "/nowhere/swap/a"))

    assert len(queries.captured_queries) == 2, [q["sql"][:60] for q in queries]
    other.refresh_from_db()
    assert other.observed_at is not None  # it was observed, in the one statement
