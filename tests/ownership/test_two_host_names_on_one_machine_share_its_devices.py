"""Two host names on one machine (two workers with different SWAPADMIN_HOST, the same
/etc/machine-id: a renamed host whose old row lives on, two deployments on one box) see the
same disks. One store serves one backend across every name the machine goes by: the second
provision of the same block device, forced with the typed name, is refused by its worker
before a byte is written, and the first backend's device is as it was and still its own."""

from __future__ import annotations

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job
from tests.ownership.conftest import MiB, digest

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def two_names_and_the_firsts_disk(start_worker, actor: Actor, scratch, loops):
    """Two workers of this machine under two host names, and a block backend of the first's
    on a loop device: (first worker, second worker, the device, its backing file)."""
    a, b = start_worker(), start_worker()
    assert a.host.machine_id == b.host.machine_id != ""
    disk = scratch / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(64 * MiB)
    dev = loops(disk)
    first = services.create_backend(
        host=a.host, kind="block", name="disk-a", size_bytes=None, actor=actor,
        params={"device": dev},
    )  # fmt: skip
    assert wait_for_job(first, 60, worker=a).state == Job.State.SUCCEEDED
    return a, b, dev, disk


def test_the_second_name_cannot_take_the_first_ones_device(start_worker, alice, scratch, loops):
    actor = Actor(alice, Job.Via.API)
    a, b, dev, disk = two_names_and_the_firsts_disk(start_worker, actor, scratch, loops)
    before = digest(disk)

    second = services.create_backend(
        host=b.host, kind="block", name="disk-b", size_bytes=None, actor=actor,
        params={"device": dev}, force=True, confirm="disk-b",
    )  # fmt: skip
    second = wait_for_job(second, 60, worker=b)
    assert second.state == Job.State.FAILED, second.log
    assert "is the store of backend 'disk-a' on this machine already" in second.error
    assert "Nothing was written" in second.error
    assert digest(disk) == before
    assert Backend.objects.get(name="disk-b").provisioned_at is None

    ours = Backend.objects.get(name="disk-a")
    scan = wait_for_job(services.request_action(ours, Job.Kind.SCAN, actor, {"patterns": 1}), 60)
    assert scan.state == Job.State.SUCCEEDED, scan.error  # still disk-a's own


def test_the_second_name_does_not_adopt_the_first_ones_active_area(
    start_worker, alice, scratch, loops
):
    """Discovery on the second name finds the first name's area active in /proc/swaps. It is
    not its own: adopted there, it would be activated and deactivated as the second name's
    swap, under the first's backend. It is left alone, and the job says whose it is."""
    actor = Actor(alice, Job.Via.API)
    a, b, dev, _ = two_names_and_the_firsts_disk(start_worker, actor, scratch, loops)
    ours = Backend.objects.get(name="disk-a")
    on = wait_for_job(services.request_action(ours, Job.Kind.ACTIVATE, actor), 60, worker=a)
    assert on.state == Job.State.SUCCEEDED, on.error

    found = services.request_host_job(b.host, Job.Kind.DISCOVER, actor, {"paths": [dev]})
    found = wait_for_job(found, 60, worker=b)
    assert found.state == Job.State.SUCCEEDED, found.error
    assert found.result["adopted"] == [], found.result
    [skipped] = found.result["skipped"]
    assert skipped["reason"] == (
        f"it is the store of backend 'disk-a' on this machine already (host {a.host.name})"
    )
    assert not Backend.objects.filter(host=b.host).exists()
