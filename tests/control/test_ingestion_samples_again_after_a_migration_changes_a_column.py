"""A migration that changes the type of a column the sampler's prepared statement returns
(run, as DEPLOY.md says, while the old workers still sample) costs one sample, not every
sample until the connection is closed: PostgreSQL fails a prepared statement whose result
type changed ("cached plan must not change result type") on every run, and psycopg never
drops it by itself outside a transaction."""

from __future__ import annotations

import psycopg
import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from backends.kernel import MemInfo, SwapArea
from swapadmin.core.models import Backend, Host, Sample
from swapadmin.core.sampler import HostReading, store_sample

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements"),
]

GIB = 1 << 30


def reading(path: str) -> HostReading:
    return HostReading(
        at=timezone.now(),
        meminfo=MemInfo(mem_total=16 * GIB, mem_available=9 * GIB, swap_total=8 * GIB,
                        swap_free=6 * GIB, swap_cached=0),
        psi=None,
        areas=[SwapArea(path=path, type="file", size_bytes=GIB, used_bytes=5 << 20, priority=1)],
    )  # fmt: skip


def alter_observed_state(length: int) -> None:
    """As a migration run from another machine: its own connection."""
    s = connection.settings_dict
    with psycopg.connect(
        dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"], host=s["HOST"],
        port=s["PORT"], autocommit=True,
    ) as other:  # fmt: skip
        other.execute(
            f"ALTER TABLE core_backend ALTER COLUMN observed_state TYPE varchar({length})"
        )


def test_one_sample_fails_and_the_next_are_stored() -> None:
    host = Host.objects.create(name="migrated", kernel_release="test")
    Backend.objects.create(host=host, kind="file", name="b0", params={"path": "/nowhere/m/b0"})
    store_sample(host, reading("/nowhere/m/b0"))  # prepares the statements
    length = Backend._meta.get_field("observed_state").max_length
    assert isinstance(length, int)
    alter_observed_state(length + 5)
    try:
        outcomes = []
        for _ in range(3):
            try:
                store_sample(host, reading("/nowhere/m/b0"))
                outcomes.append("stored")
            except DatabaseError as e:
                outcomes.append(str(e).splitlines()[0])
    finally:
        alter_observed_state(length)
    assert outcomes[1:] == ["stored", "stored"], outcomes
    assert outcomes[0] in ("stored", "cached plan must not change result type"), outcomes
    assert Sample.objects.filter(host=host).count() == 1 + outcomes.count("stored")
