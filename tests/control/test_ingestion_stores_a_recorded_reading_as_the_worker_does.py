"""A reading recorded on one machine and stored for a host (a synthetic one, in the bench)
goes through the worker's own storing: the Sample row, the Host's snapshot and heartbeat,
and each backend's state, with every rule of the sampler kept (a job's backend, a foreign
store and a fresher observation are left alone)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from backends.kernel import MemInfo, Psi, SwapArea
from swapadmin.core.models import Backend, Host, Job, Sample
from swapadmin.core.sampler import HostReading, store_sample

pytestmark = [pytest.mark.django_db]

GIB = 1 << 30


def backend(host: Host, name: str, state: str = "ready", observed_at=None) -> Backend:
    return Backend.objects.create(
        host=host, kind="file", name=name, params={"path": f"/nowhere/swap/{name}"},
        size_bytes=GIB, observed_state=state, observed_at=observed_at, used_bytes=4096,
        active_priority=3 if state == "active" else None,
    )  # fmt: skip


def reading(at, areas: list[SwapArea]) -> HostReading:
    return HostReading(
        at=at,
        meminfo=MemInfo(mem_total=16 * GIB, mem_available=9 * GIB, swap_total=8 * GIB,
                        swap_free=6 * GIB, swap_cached=64 << 20),
        psi=Psi(some_avg10=12.5, some_avg60=4.0, some_avg300=1.0, some_total=77,
                full_avg10=2.25, full_avg60=1.0, full_avg300=0.5, full_total=11),
        areas=areas, rates=(3.5, 7.25), counters=(1000, 2000),
        tunables={"swappiness": 60}, zram={}, top=[{"pid": 1, "name": "init", "swap_bytes": 0}],
    )  # fmt: skip


def area(name: str, used: int, priority: int) -> SwapArea:
    return SwapArea(path=f"/nowhere/swap/{name}", type="file", size_bytes=GIB,
                    used_bytes=used, priority=priority)  # fmt: skip


def test_it_writes_the_sample_the_snapshot_and_the_heartbeat(host_row):
    Host.objects.filter(pk=host_row.pk).update(last_heartbeat=timezone.now() - timedelta(days=1))
    on = backend(host_row, "on")
    # Read a day ago by the host's clock: the heartbeat is the database's clock all the same.
    at = timezone.now() - timedelta(days=1)
    stranger = SwapArea(path="/elsewhere/swapfile", type="file", size_bytes=GIB,
                        used_bytes=0, priority=-2)  # fmt: skip

    sample = store_sample(host_row, reading(at, [area("on", 5 << 20, 7), stranger]))

    row = Sample.objects.get(host=host_row)
    assert row.pk == sample.pk
    assert (row.at, row.resolution) == (at, "raw")
    assert (row.mem_total, row.mem_available, row.swap_total, row.swap_free, row.swap_cached) == (
        16 * GIB, 9 * GIB, 8 * GIB, 6 * GIB, 64 << 20)  # fmt: skip
    assert (row.pswpin_rate, row.pswpout_rate) == (3.5, 7.25)
    assert (row.psi_some_avg10, row.psi_full_avg10) == (12.5, 2.25)
    assert row.backends == {str(on.uuid): 5 << 20}
    assert row.backends_peak is None
    host = Host.objects.get(pk=host_row.pk)
    assert host.observed_at == at
    assert timezone.now() - host.last_heartbeat < timedelta(minutes=1)
    assert host.observed["meminfo"]["swap_free"] == 6 * GIB
    assert host.observed["rates"] == {"pswpin": 3.5, "pswpout": 7.25}
    assert host.observed["vmstat"] == {"pswpin": 1000, "pswpout": 2000}
    assert host.observed["psi"]["some_total"] == 77
    assert host.observed["heartbeat"] == at.isoformat()
    assert [a["path"] for a in host.observed["areas"]] == [
        "/nowhere/swap/on",
        "/elsewhere/swapfile",
    ]
    assert [a["path"] for a in host.observed["unmanaged"]] == ["/elsewhere/swapfile"]
    assert host.observed["top"] == [{"pid": 1, "name": "init", "swap_bytes": 0}]


def test_each_backend_takes_its_own_state_and_the_rules_hold(host_row):
    at = timezone.now()
    on = backend(host_row, "on")
    also_on = backend(host_row, "also_on")
    gone = backend(host_row, "gone", state="active")
    busy = backend(host_row, "busy", state="active")
    Job.objects.create(host=host_row, backend=busy, backend_name="busy", kind="activate",
                       state=Job.State.RUNNING)  # fmt: skip
    foreign = backend(host_row, "foreign", state="foreign")
    fresher = backend(host_row, "fresher", state="active", observed_at=at + timedelta(seconds=1))
    areas = [area("on", 5 << 20, 7), area("also_on", 9 << 20, -3), area("busy", 1 << 20, 1),
             area("foreign", 2 << 20, 2), area("fresher", 3 << 20, 4)]  # fmt: skip

    sample = store_sample(host_row, reading(at, areas))

    def state(b: Backend) -> tuple:
        b.refresh_from_db()
        return b.observed_state, b.used_bytes, b.active_priority, b.observed_at

    assert state(on) == ("active", 5 << 20, 7, at)
    assert state(also_on) == ("active", 9 << 20, -3, at)
    # The store is not at its path (never made here): absent, nothing in use.
    assert state(gone) == ("absent", 0, None, at)
    # A running job refreshes its backend when it ends; a foreign store's verdict stays;
    # an observation newer than the reading is kept.
    assert state(busy) == ("active", 4096, 3, None)
    assert state(foreign) == ("foreign", 4096, None, None)
    assert state(fresher) == ("active", 4096, 3, at + timedelta(seconds=1))
    # The sample counts what is ours in /proc/swaps, busy or not; a foreign area is not.
    assert sample.backends == {str(on.uuid): 5 << 20, str(also_on.uuid): 9 << 20,
                               str(busy.uuid): 1 << 20, str(fresher.uuid): 3 << 20}  # fmt: skip
    unmanaged = Host.objects.get(pk=host_row.pk).observed["unmanaged"]
    assert [a["path"] for a in unmanaged] == ["/nowhere/swap/foreign"]


def test_a_state_the_reading_cannot_tell_is_left_as_it_was(host_row, tmp_path):
    # A store at its path, not in /proc/swaps, last seen in error: the reading cannot say
    # more (a thorough look will); ready and error both keep their state, in one UPDATE.
    at = timezone.now()
    errored = backend(host_row, "errored", state="error")
    Backend.objects.filter(pk=errored.pk).update(
        params={"path": str(tmp_path)}, observed_error="no usable swap header"
    )
    was_active = backend(host_row, "was_active", state="active")
    Backend.objects.filter(pk=was_active.pk).update(params={"path": str(tmp_path)})

    store_sample(host_row, reading(at, []))

    errored.refresh_from_db()
    was_active.refresh_from_db()
    assert (errored.observed_state, errored.observed_error, errored.used_bytes) == (
        "error", "no usable swap header", 0)  # fmt: skip
    assert (was_active.observed_state, was_active.used_bytes) == ("ready", 0)
