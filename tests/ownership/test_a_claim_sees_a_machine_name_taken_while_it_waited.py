"""A claim checks its store against every backend of its machine, whatever host name the
machine is known by (``plugins.record_store``). Which names those are, it learns from the
host's machine id, read before it can lock anything. If the id changes before the lock is
granted (the host's worker registers it with its machine id, which another name of the
same machine already has), the claim must check against the names the machine has at the
moment of its write, not the ones it had at the moment it asked: otherwise two backends of
one machine claim the same disk.

PostgreSQL only: SQLite (`make run`) has one write lock for the whole database, so nothing
can commit between the claim's read and its lock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from backends.errors import NotOursError
from backends.store import Store
from swapadmin.core.models import Backend, Host
from swapadmin.core.plugins import claim_store
from tests.faults.pause import waits_beside_a_hold
from tests.fixtures.marks import row_locks
from tests.fixtures.workers import test_database_url as database_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    row_locks,
]

DISK = "blk:wwid:naa.5000000000000001"


def claim_beside_a_change(
    backend: Backend, key: str, change: Callable[[psycopg.Connection[Any], int], None]
) -> list[NotOursError]:
    """Claim ``key`` for ``backend`` while another connection holds its host's row (as a
    registration or a forget does) and, once the claim waits for it, makes ``change`` and
    commits: the claim's refusals, [] when it recorded the key."""
    other = psycopg.connect(database_url(), autocommit=False)
    refused: list[NotOursError] = []

    def claim() -> None:
        try:
            claim_store(backend, Store(-1, True, "/dev/sdz", key))
        except NotOursError as e:
            refused.append(e)

    try:
        other.execute("SELECT id FROM core_host WHERE id = %s FOR UPDATE", (backend.host_id,))
        waited = waits_beside_a_hold(
            other.info.backend_pid,
            other.commit,
            claim,
            "claim",
            meanwhile=lambda: change(other, backend.host_id),
        )
    finally:
        other.close()
    assert waited, "the claim never waited for the other change's hold of its host's row"
    return refused


def test_a_machine_id_given_while_the_claim_waited_is_the_one_checked() -> None:
    # "old" is the name the machine had before; "renamed" is its new name, with no machine
    # id yet (as after forget-machine), about to be given the same one by its worker.
    old = Host.objects.create(name="old", kernel_release="test", machine_id="m-1")
    Backend.objects.create(host=old, kind="block", name="disk", store_key=DISK,
                           params={"device": "/dev/sdz"})  # fmt: skip
    renamed = Host.objects.create(name="renamed", kernel_release="test", machine_id="")
    mine = Backend.objects.create(host=renamed, kind="block", name="again",
                                  params={"device": "/dev/sdz"})  # fmt: skip

    def register(conn: psycopg.Connection[Any], host_pk: int) -> None:
        conn.execute("UPDATE core_host SET machine_id = 'm-1' WHERE id = %s", (host_pk,))

    refused = claim_beside_a_change(mine, DISK, register)
    assert refused, "the claim took a disk another name of its machine had already claimed"
    assert "is the store of backend 'disk' on this machine already" in str(refused[0])
    mine.refresh_from_db()
    assert not mine.store_key


def test_a_host_that_keeps_its_machine_id_claims_as_before() -> None:
    host = Host.objects.create(name="steady", kernel_release="test", machine_id="m-2")
    backend = Backend.objects.create(host=host, kind="block", name="b",
                                     params={"device": "/dev/sdy"})  # fmt: skip
    claim_store(backend, Store(-1, True, "/dev/sdy", "blk:8:16"))
    backend.refresh_from_db()
    assert backend.store_key == "blk:8:16"


def test_a_host_forgotten_while_the_claim_waited_writes_nothing() -> None:
    host = Host.objects.create(name="going", kernel_release="test", machine_id="")
    backend = Backend.objects.create(host=host, kind="block", name="b",
                                     params={"device": "/dev/sdx"})  # fmt: skip

    def forget(conn: psycopg.Connection[Any], host_pk: int) -> None:
        conn.execute("DELETE FROM core_backend WHERE host_id = %s", (host_pk,))
        conn.execute("DELETE FROM core_host WHERE id = %s", (host_pk,))

    refused = claim_beside_a_change(backend, "blk:8:32", forget)
    assert refused and "was forgotten meanwhile" in str(refused[0]), refused
