"""A sample never waits for a backend's row that another transaction (a job's claim of its
store, a test's lock) holds: it writes the host's heartbeat and its other backends, and
leaves that one row for the next reading. Waiting would hold the host's row meanwhile, and a
job's claim (``plugins.record_store``) locks the host's row before the backend's: the job
would wait on the sample that waits on the job. CI met that once (stop 26): a worker stalled
in ``claim_store`` behind a sample.

PostgreSQL only: SQLite's sample (`make run`) takes the database's one write lock first, so
no row is ever held apart from it."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from backends.kernel import MemInfo, SwapArea
from swapadmin.core.models import Backend, Host, Sample
from swapadmin.core.sampler import HostReading, store_sample
from tests.faults.pause import RowLock
from tests.fixtures.workers import wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite holds no row apart"),
]

GIB = 1 << 30


def reading(names: list[str]) -> HostReading:
    areas = [
        SwapArea(path=f"/nowhere/h/{name}", type="file", size_bytes=GIB, used_bytes=3 << 20,
                 priority=2)
        for name in names
    ]  # fmt: skip
    return HostReading(
        at=timezone.now(),
        meminfo=MemInfo(mem_total=16 * GIB, mem_available=9 * GIB, swap_total=2 * GIB,
                        swap_free=GIB, swap_cached=0),
        psi=None, areas=areas,
    )  # fmt: skip


def blocked_by(lock: RowLock) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT left(query, 120) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
            [lock.pid],
        )
        return [q for (q,) in cursor.fetchall()]


def test_a_sample_writes_around_a_held_backend_row_without_waiting() -> None:
    host = Host.objects.create(name="held", kernel_release="test")
    held = Backend.objects.create(host=host, kind="file", name="busy",
                                  params={"path": "/nowhere/h/busy"})  # fmt: skip
    free = Backend.objects.create(host=host, kind="file", name="free",
                                  params={"path": "/nowhere/h/free"})  # fmt: skip
    lock = RowLock()
    done = threading.Event()
    failed: list[BaseException] = []

    def sample() -> None:
        try:
            store_sample(host, reading(["busy", "free"]))
        except BaseException as e:  # noqa: BLE001  (told to the test below)
            failed.append(e)
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=sample, name="sample")
    lock.take("busy", "held")
    try:
        thread.start()
        # Either the sample ends, or PostgreSQL names the lock as what it waits for.
        wait_until(lambda: done.is_set() or blocked_by(lock), 30, "the sample to end or wait")
        assert done.is_set(), f"the sample waits for the held row: {blocked_by(lock)}"
    finally:
        lock.release()
        thread.join(30)
    assert not failed, failed
    host.refresh_from_db()
    held.refresh_from_db()
    free.refresh_from_db()
    assert host.last_heartbeat is not None
    assert Sample.objects.filter(host=host).count() == 1
    assert (free.observed_state, free.used_bytes) == ("active", 3 << 20)
    # Left for the next reading, as it was.
    assert (held.observed_state, held.used_bytes, held.observed_at) == ("unknown", 0, None)


def test_the_next_sample_writes_the_row_once_it_is_free() -> None:
    host = Host.objects.create(name="later", kernel_release="test")
    held = Backend.objects.create(host=host, kind="file", name="busy",
                                  params={"path": "/nowhere/h/busy"})  # fmt: skip
    lock = RowLock()
    lock.take("busy", "later")
    try:
        store_sample(host, reading(["busy"]))
    finally:
        lock.release()
    store_sample(host, reading(["busy"]))
    held.refresh_from_db()
    assert (held.observed_state, held.used_bytes) == ("active", 3 << 20)
