"""On PostgreSQL the sampler's two statements have one text whatever the host and however
many backends it has, so the connection prepares each once and every later sample only
binds and runs them: neither side parses the text again, nor plans it (most of a sample's
CPU on both sides before). Django's own queries stay unprepared, and so do the sampler's
with SWAPADMIN_SAMPLER_PREPARES off."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from backends.kernel import MemInfo, SwapArea
from swapadmin.core.models import Backend, Host, Sample
from swapadmin.core.sampler import HostReading, store_sample

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements"),
]

GIB = 1 << 30


def reading(paths: list[str]) -> HostReading:
    return HostReading(
        at=timezone.now(),
        meminfo=MemInfo(mem_total=16 * GIB, mem_available=9 * GIB, swap_total=8 * GIB,
                        swap_free=6 * GIB, swap_cached=0),
        psi=None,
        areas=[SwapArea(path=p, type="file", size_bytes=GIB, used_bytes=i << 20, priority=i)
               for i, p in enumerate(paths)],
    )  # fmt: skip


def host_with(name: str, backends: int) -> Host:
    host = Host.objects.create(name=name, kernel_release="test")
    for i in range(backends):
        path = f"/nowhere/{name}/b{i}"
        Backend.objects.create(host=host, kind="file", name=f"b{i}", params={"path": path})
    return host


def sampler_statements() -> dict[str, int]:
    """The statements this connection prepared that write a Sample or read core_backend,
    with how many times each ran as a prepared statement (the connection may have run
    them for an earlier test already)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s OR statement LIKE %s",
            ['%INSERT INTO "core_sample"%', 'SELECT b."id"%FROM "core_backend" b%'],
        )
        return dict(cursor.fetchall())


def test_two_hosts_with_different_backends_share_two_prepared_statements():
    one, three = host_with("one", 1), host_with("three", 3)
    before = sampler_statements()

    for _ in range(3):
        store_sample(one, reading(["/nowhere/one/b0"]))
        store_sample(three, reading(["/nowhere/three/b0", "/nowhere/three/b2"]))

    after = sampler_statements()
    # One read and one write, each prepared once and run for all six samples.
    assert len(after) == 2, after
    assert {runs - before.get(text, 0) for text, runs in after.items()} == {6}
    # What the six samples wrote is each host's own.
    assert Sample.objects.filter(host=one).count() == Sample.objects.filter(host=three).count() == 3
    states = dict(Backend.objects.filter(host=three).values_list("name", "used_bytes"))
    assert states == {"b0": 0, "b1": 0, "b2": 1 << 20}


def test_with_preparing_off_the_sample_is_stored_unprepared(settings):
    settings.SWAPADMIN_SAMPLER_PREPARES = False  # a pooler that cannot carry them
    host = host_with("pooled", 2)
    before = sampler_statements()

    sample = store_sample(host, reading(["/nowhere/pooled/b0", "/nowhere/pooled/b1"]))

    assert sampler_statements() == before
    b1 = Backend.objects.get(host=host, name="b1")
    assert (b1.observed_state, b1.used_bytes, b1.active_priority) == ("active", 1 << 20, 1)
    assert len(Sample.objects.get(pk=sample.pk).backends) == 2


def test_djangos_own_queries_stay_unprepared():
    host = host_with("solo", 1)
    store_sample(host, reading([]))

    list(Host.objects.filter(name="solo"))

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['%FROM "core_host"%WHERE "core_host"."name"%'],
        )
        assert cursor.fetchone() == (0,)
