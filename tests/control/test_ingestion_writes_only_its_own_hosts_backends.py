"""A sample writes the observed state of the backends its host has when it is written: a
backend moved to another host, or deleted, between the sample's read of the host's backends
and its write, is not written (the write names the host, not only the backends it read)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from backends.kernel import MemInfo, SwapArea
from swapadmin.core import sampler
from swapadmin.core.models import Backend, Host
from swapadmin.core.sampler import HostReading, store_sample

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # SQLite's sample takes the write lock before it reads: no moment to move a backend in.
    pytest.mark.skipif(connection.vendor != "postgresql", reason="no window on SQLite"),
]

GIB = 1 << 30


def test_a_backend_moved_or_deleted_meanwhile_is_not_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mine = Host.objects.create(name="mine", kernel_release="test")
    other = Host.objects.create(name="other", kernel_release="test")
    moved = Backend.objects.create(host=mine, kind="file", name="moved",
                                   params={"path": "/nowhere/o/moved"})  # fmt: skip
    gone = Backend.objects.create(host=mine, kind="file", name="gone",
                                  params={"path": "/nowhere/o/gone"})  # fmt: skip
    kept = Backend.objects.create(host=mine, kind="file", name="kept",
                                  params={"path": "/nowhere/o/kept"})  # fmt: skip
    read = sampler._backends_of

    def then_changed(host: Host) -> list[tuple[Backend, bool]]:
        rows = read(host)
        # Another machine, between the read and the write.
        Backend.objects.filter(pk=moved.pk).update(host=other)
        Backend.objects.filter(pk=gone.pk).delete()
        return rows

    monkeypatch.setattr(sampler, "_backends_of", then_changed)
    areas = [
        SwapArea(path=f"/nowhere/o/{name}", type="file", size_bytes=GIB, used_bytes=7 << 20,
                 priority=1)
        for name in ("moved", "gone", "kept")
    ]  # fmt: skip
    store_sample(mine, HostReading(
        at=timezone.now(),
        meminfo=MemInfo(mem_total=16 * GIB, mem_available=9 * GIB, swap_total=8 * GIB,
                        swap_free=6 * GIB, swap_cached=0),
        psi=None, areas=areas,
    ))  # fmt: skip
    kept.refresh_from_db()
    moved.refresh_from_db()
    assert (kept.observed_state, kept.used_bytes) == ("active", 7 << 20)
    assert moved.host_id == other.pk
    assert (moved.observed_state, moved.used_bytes) != ("active", 7 << 20), moved.observed_state
    assert not Backend.objects.filter(pk=gone.pk).exists()
