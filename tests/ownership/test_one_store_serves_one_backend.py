"""Two backends on one host never name the same bytes, whatever the spelling: the same path
(refused by the request side), the same file through a bind-mounted swap root or a hard
link, a partition and its whole disk. The second is refused by the worker, even forced, and
the first backend's store is byte for byte what it was and still its own.
"""

from __future__ import annotations

import os

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root, run
from tests.fixtures.workers import wait_for_job
from tests.ownership.conftest import MiB, digest

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def create(worker, actor: Actor, name: str, kind: str, **fields) -> Job:
    fields.setdefault("size_bytes", 16 * MiB if kind != "block" else None)
    job = services.create_backend(host=worker.host, kind=kind, name=name, actor=actor, **fields)
    return wait_for_job(job, 60, worker=worker)


def provision_forced(backend: Backend, actor: Actor, worker) -> Job:
    job = services.request_action(
        backend, Job.Kind.PROVISION, actor, {"force": True, "confirm": backend.name}
    )
    return wait_for_job(job, 60, worker=worker)


def test_the_same_path_is_refused_before_a_job(worker, alice):
    actor = Actor(alice, Job.Via.API)
    path = str(worker.swap_root / "s0")
    assert create(worker, actor, "a", "file", params={"path": path}).state == "succeeded"
    for kind in ("file", "loop"):
        with pytest.raises(services.InvalidRequest, match="is the store of backend 'a'"):
            services.create_backend(
                host=worker.host, kind=kind, name=f"b-{kind}", size_bytes=16 * MiB,
                actor=actor, params={"path": path},
            )  # fmt: skip
    assert list(Backend.objects.filter(host=worker.host).values_list("name", flat=True)) == ["a"]


def test_a_file_through_a_bind_mounted_root(start_worker, alice, swap_root, scratch):
    actor = Actor(alice, Job.Via.API)
    alias = scratch / "alias"
    alias.mkdir(mode=0o700)
    run("mount", "--bind", str(swap_root), str(alias))
    try:
        w = start_worker(env={"SWAPADMIN_SWAP_ROOTS": f"{swap_root}:{alias}"})
        a = create(w, actor, "a", "file", params={"path": str(swap_root / "s0")})
        assert a.state == "succeeded", a.error
        before = digest(swap_root / "s0")

        b = create(w, actor, "b", "file", params={"path": str(alias / "s0")})
        assert b.state == "failed" and "another swapadmin backend" in b.error, b.error
        forced = provision_forced(Backend.objects.get(name="b"), actor, w)
        assert forced.state == "failed", forced.log
        assert "is the store of backend 'a' on this host already" in forced.error
        assert digest(swap_root / "s0") == before
        assert os.getxattr(swap_root / "s0", "trusted.swapadmin").endswith(
            str(Backend.objects.get(name="a").uuid).encode()
        )
        check = wait_for_job(
            services.request_action(Backend.objects.get(name="a"), Job.Kind.SCAN, actor), 60
        )
        assert check.state == "succeeded", check.error  # a is still a's
    finally:
        run("umount", "-l", str(alias), check=False)


def test_a_second_name_by_hard_link(worker, alice):
    actor = Actor(alice, Job.Via.API)
    a = create(worker, actor, "a", "file", params={"path": str(worker.swap_root / "s0")})
    assert a.state == "succeeded", a.error
    os.link(worker.swap_root / "s0", worker.swap_root / "s0-link")
    before = digest(worker.swap_root / "s0")

    b = create(worker, actor, "b", "file", params={"path": str(worker.swap_root / "s0-link")})
    assert b.state == "failed" and "another swapadmin backend" in b.error, b.error
    forced = provision_forced(Backend.objects.get(name="b"), actor, worker)
    assert forced.state == "failed" and "2 names (hard links)" in forced.error, forced.error
    # While the second name exists, not even a is written: that name may be anyone's.
    bench = wait_for_job(
        services.request_action(
            Backend.objects.get(name="a"), Job.Kind.BENCHMARK, actor, {"seconds": 1}
        ),
        60,
    )
    assert bench.state == "failed" and "2 names (hard links)" in bench.error, bench.error
    assert digest(worker.swap_root / "s0") == before


def test_a_partition_and_its_disk(worker, alice, scratch, loops):
    actor = Actor(alice, Job.Via.API)
    disk_file = scratch / "disk.img"
    with open(disk_file, "wb") as f:
        f.truncate(64 * MiB)
    run("sfdisk", "-q", str(disk_file), input="label: gpt\n2048,32768,S\n,,S\n")
    disk = loops(disk_file, partitions=True)
    part1 = f"{disk}p1"
    a = create(worker, actor, "part", "block", params={"device": part1})
    assert a.state == "succeeded", a.error
    before = digest(part1)

    # The whole disk holds a partition table: forced, it is still refused, being part's too.
    b = create(worker, actor, "disk", "block", params={"device": disk})
    assert b.state == "failed" and "holds data: gpt" in b.error, b.error
    forced = provision_forced(Backend.objects.get(name="disk"), actor, worker)
    assert forced.state == "failed", forced.log
    assert "is the store of backend 'part' on this host already" in forced.error
    assert digest(part1) == before
    assert "gpt" in run("blkid", "-p", "-o", "value", "-s", "PTTYPE", disk).stdout

    # The other way round: the disk first, then a partition of it.
    Backend.objects.filter(name="disk").delete()
    wait_for_job(services.request_action(Backend.objects.get(name="part"), "destroy", actor), 60)
    c = create(worker, actor, "whole", "block", params={"device": disk}, force=True,
               confirm="whole")  # fmt: skip
    assert c.state == "succeeded", c.error
    d = create(worker, actor, "p2", "block", params={"device": f"{disk}p2"})
    assert d.state == "failed", d.log
    assert "is the store of backend 'whole' on this host already" in d.error, d.error
