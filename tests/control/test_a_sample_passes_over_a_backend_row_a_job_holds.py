"""A sample never waits for a backend's row that another transaction (a job's claim of its
store, a test's lock) holds: it writes the host's heartbeat and its other backends, and
leaves that one row for the next reading. Waiting would hold the host's row meanwhile, and a
job's claim (``plugins.record_store``) locks the host's row before the backend's: the job
would wait on the sample that waits on the job. CI met that once (stop 26): a worker stalled
in ``claim_store`` behind a sample. A foreign key's check on the row (a job or a health row
being inserted for the backend) is no hold: the sample writes the row as before.

PostgreSQL only: SQLite's sample (`make run`) takes the database's one write lock first, so
no row is ever held apart from it."""

from __future__ import annotations

import psycopg
import pytest
from django.utils import timezone

from backends.kernel import MemInfo, SwapArea
from swapadmin.core.models import Backend, Host, Sample
from swapadmin.core.sampler import HostReading, store_sample
from tests.faults.pause import waits_beside_a_hold
from tests.fixtures.marks import row_locks
from tests.fixtures.workers import test_database_url as database_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    row_locks,
]

GIB = 1 << 30
#: How a job's claim holds the row (``record_store``'s UPDATE), and how a foreign key's check
#: does (an uncommitted INSERT of a job naming the backend).
CLAIM, KEY_CHECK = "FOR UPDATE", "FOR KEY SHARE"


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


def sample_beside(backend: Backend, how: str, names: list[str]) -> list[str]:
    """Take a sample of ``backend``'s host while its row is held ``how`` by a connection of
    its own: what waited on the hold, [] when the sample ended without waiting."""
    conn = psycopg.connect(database_url(), autocommit=False)
    try:
        conn.execute(f"SELECT id FROM core_backend WHERE id = %s {how}", (backend.pk,))
        return waits_beside_a_hold(
            conn.info.backend_pid,
            conn.rollback,
            lambda: store_sample(backend.host, reading(names)),
            "sample",
        )
    finally:
        conn.close()


def backend(host: Host, name: str) -> Backend:
    return Backend.objects.create(host=host, kind="file", name=name,
                                  params={"path": f"/nowhere/h/{name}"})  # fmt: skip


def test_a_sample_writes_around_a_held_backend_row_without_waiting() -> None:
    host = Host.objects.create(name="held", kernel_release="test")
    busy, free = backend(host, "busy"), backend(host, "free")
    assert sample_beside(busy, CLAIM, ["busy", "free"]) == [], "the sample waited for the row"
    host.refresh_from_db()
    busy.refresh_from_db()
    free.refresh_from_db()
    assert host.last_heartbeat is not None
    assert Sample.objects.filter(host=host).count() == 1
    assert (free.observed_state, free.used_bytes) == ("active", 3 << 20)
    # Left for the next reading, as it was.
    assert (busy.observed_state, busy.used_bytes, busy.observed_at) == ("unknown", 0, None)
    # Once the row is free, the next reading writes it.
    store_sample(host, reading(["busy"]))
    busy.refresh_from_db()
    assert (busy.observed_state, busy.used_bytes) == ("active", 3 << 20)


def test_a_foreign_keys_check_on_the_row_holds_nothing_back() -> None:
    host = Host.objects.create(name="checked", kernel_release="test")
    checked = backend(host, "checked")
    assert sample_beside(checked, KEY_CHECK, ["checked"]) == []
    checked.refresh_from_db()
    assert (checked.observed_state, checked.used_bytes) == ("active", 3 << 20)


def test_a_claim_holding_the_host_row_goes_on_to_its_backend_while_a_sample_waits() -> None:
    """The order itself: a claim holds the host's row, a sample waits for it, and the claim's
    next step, its backend's row, must not wait for the sample (which would hold it had it
    locked its backends first: a deadlock, and one of the two failed)."""
    host = Host.objects.create(name="claiming", kernel_release="test")
    mine, other = backend(host, "mine"), backend(host, "other")
    claim = psycopg.connect(database_url(), autocommit=False)
    try:
        claim.execute("SELECT id FROM core_host WHERE id = %s FOR NO KEY UPDATE", (host.pk,))
        claim.execute("SET LOCAL lock_timeout = '30s'")  # a ceiling; a deadlock ends in 1 s
        waited = waits_beside_a_hold(
            claim.info.backend_pid,
            claim.commit,
            lambda: store_sample(host, reading(["mine", "other"])),
            "sample",
            meanwhile=lambda: claim.execute(
                "UPDATE core_backend SET store_key = 'file:9:9' WHERE id = %s", (mine.pk,)
            ),
        )
    finally:
        claim.close()
    assert waited, "the sample did not wait for the claim's hold of the host's row"
    mine.refresh_from_db()
    other.refresh_from_db()
    assert mine.store_key == "file:9:9"
    assert (other.observed_state, other.used_bytes) == ("active", 3 << 20)
