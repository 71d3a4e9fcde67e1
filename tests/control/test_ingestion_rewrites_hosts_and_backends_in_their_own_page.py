"""On PostgreSQL a sample's new versions of its Host and Backend rows fit in their own
pages (migration 0012's fillfactor), so they are HOT updates: no entry in any index, and
the old version reclaimed without VACUUM. Pages are packed first, as a registered fleet
leaves them: in a full page the new version would go elsewhere, through every index."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from backends.kernel import MemInfo, SwapArea
from swapadmin.core.models import Backend, Host
from swapadmin.core.sampler import HostReading, store_sample

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's HOT updates"),
]

GIB = 1 << 30
HOSTS = 40  # several pages of each table, each page filled as far as inserts fill it


def snapshot(i: int) -> dict:
    """A snapshot the size of a real one (ten top users), as a registered host holds."""
    top = [{"pid": 1000 + p, "name": f"proc{p}", "swap_bytes": p << 20} for p in range(10)]
    return {"meminfo": {"mem_total": 16 * GIB, "swap_total": 8 * GIB, "swap_free": i},
            "areas": [], "unmanaged": [], "top": top}  # fmt: skip


def reading() -> HostReading:
    return HostReading(
        at=timezone.now(),
        meminfo=MemInfo(mem_total=16 * GIB, mem_available=9 * GIB, swap_total=8 * GIB,
                        swap_free=6 * GIB, swap_cached=0),
        psi=None,
        areas=[SwapArea(path="/nowhere/h00/b0", type="file", size_bytes=GIB,
                        used_bytes=5 << 20, priority=3)],
        top=snapshot(0)["top"],
    )  # fmt: skip


def updates(table: str) -> tuple[int, int]:
    """This transaction's (row updates, HOT ones) of ``table``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_stat_get_xact_tuples_updated(%s::regclass), "
            "pg_stat_get_xact_tuples_hot_updated(%s::regclass)",
            [table, table],
        )
        return cursor.fetchone()


def test_a_samples_host_and_backend_updates_are_hot():
    hosts = Host.objects.bulk_create(
        Host(name=f"h{i:02d}", kernel_release="test", observed=snapshot(i)) for i in range(HOSTS)
    )
    Backend.objects.bulk_create(
        Backend(host=h, kind="file", name=f"b{j}", params={"path": f"/nowhere/{h.name}/b{j}"},
                size_bytes=GIB, observed_state="ready")
        for h in hosts for j in range(2)
    )  # fmt: skip
    before = {t: updates(t) for t in ("core_host", "core_backend")}

    store_sample(hosts[0], reading())

    host_updates, host_hot = map(int.__sub__, updates("core_host"), before["core_host"])
    backend_updates, backend_hot = map(int.__sub__, updates("core_backend"), before["core_backend"])
    assert (host_updates, host_hot) == (1, 1)
    assert (backend_updates, backend_hot) == (2, 2)
    assert Backend.objects.get(host=hosts[0], name="b0").observed_state == "active"
