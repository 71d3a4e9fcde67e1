"""The same /dev/loopN, a different store. Between provision and the next job, the loop
device is detached and attached again, by number, to a file holding ext4. The backend's
path is unchanged; its store is not. Every write is refused by the worker, naming what the
device now serves; the ext4 image is byte for byte what it was; a check reports the
backend's store as not its own. A block backend's activate is refused too; a loop
backend's activate attaches its own file to a free device and leaves the other alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job
from tests.ownership.conftest import MiB, detach, digest, ext4_image, fsck_clean

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WRITES = {
    Job.Kind.BENCHMARK: {"seconds": 1},
    Job.Kind.SCAN: {"patterns": 1},
    Job.Kind.RESIZE: {"size_bytes": 48 * MiB},  # a block device has no resize
}


def provisioned(worker, actor: Actor, kind: str, name: str, **fields) -> Backend:
    job = services.create_backend(host=worker.host, kind=kind, name=name, actor=actor, **fields)
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.error
    return Backend.objects.get(pk=job.backend_id)


def all_refused(
    backend: Backend, actor: Actor, worker, expect: str, unchanged, *, activate: bool = False
) -> None:
    writes = {k: v for k, v in WRITES.items() if k != Job.Kind.RESIZE or backend.kind != "block"}
    for kind, params in [*writes.items(), *([(Job.Kind.ACTIVATE, {})] if activate else [])]:
        job = wait_for_job(services.request_action(backend, kind, actor, params), 60, worker=worker)
        assert job.state == Job.State.FAILED, (kind, job.log)
        assert expect in job.error and "Nothing was written" in job.error, (kind, job.error)
        assert unchanged(), f"a {kind} job changed the ext4 image"
    check = wait_for_job(services.request_action(backend, Job.Kind.CHECK, actor), 60)
    assert check.state == Job.State.SUCCEEDED, check.error
    identity = next(f for f in check.result["findings"] if f["check"] == "identity")
    assert identity["status"] == "fail" and "not this backend's" in identity["message"]
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.FOREIGN
    assert "not this backend's" in backend.observed_error


def test_a_loop_backends_device_attached_to_another_file(start_worker, alice, scratch, loops):
    actor = Actor(alice, Job.Via.API)
    w = start_worker(pool="prefork")
    backend = provisioned(
        w, actor, "loop", "looped", size_bytes=32 * MiB, params={"path": str(w.swap_root / "l0")}
    )
    dev = backend.state["device"]
    image = ext4_image(scratch / "other.img")
    before = digest(image)
    detach(dev)
    loops(image, dev)  # the same number, another file

    all_refused(backend, actor, w, f"the loop device now at {dev} is not this backend's",
                lambda: digest(image) == before and fsck_clean(image))  # fmt: skip

    # The refused resize changed nothing (before 228/6 it grew our file first, and the
    # activate then refused the old header): activate attaches the file again, to a free
    # device, and leaves the other one alone.
    assert (w.swap_root / "l0").stat().st_size == 32 * MiB
    job = wait_for_job(services.request_action(backend, Job.Kind.ACTIVATE, actor), 60, worker=w)
    assert job.state == Job.State.SUCCEEDED, job.error
    backend.refresh_from_db()
    ours = backend.state["device"]
    assert ours != dev and backend.observed_state == Backend.Observed.ACTIVE
    assert Path(f"/sys/block/{Path(ours).name}/loop/backing_file").read_text().strip() == str(
        w.swap_root / "l0"
    )
    assert digest(image) == before and fsck_clean(image)
    off = wait_for_job(services.request_action(backend, Job.Kind.DEACTIVATE, actor), 60, worker=w)
    assert off.state == Job.State.SUCCEEDED, off.error

    # Destroy detaches our device and removes our file; the other device is not touched.
    gone = wait_for_job(services.request_action(backend, Job.Kind.DESTROY, actor), 60, worker=w)
    assert gone.state == Job.State.SUCCEEDED, gone.error
    assert not (w.swap_root / "l0").exists()
    assert digest(image) == before and fsck_clean(image)


def test_a_block_backends_device_attached_to_another_file(start_worker, alice, scratch, loops):
    actor = Actor(alice, Job.Via.API)
    w = start_worker(pool="prefork")
    disk = scratch / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(64 * MiB)
    dev = loops(disk)
    backend = provisioned(w, actor, "block", "disk", size_bytes=None, params={"device": dev})
    image = ext4_image(scratch / "other.img")
    before = digest(image)
    detach(dev)
    loops(image, dev)

    all_refused(backend, actor, w, f"the device now at {dev} is not this backend's",
                lambda: digest(image) == before and fsck_clean(image), activate=True)  # fmt: skip


def test_a_clone_with_the_same_swap_uuid_is_still_not_ours(start_worker, alice, scratch, loops):
    """A copy of the backend's disk (dd, a snapshot) carries its swap UUID: the identity of
    the device (its backing file, its disk sequence number) still tells it apart."""
    actor = Actor(alice, Job.Via.API)
    w = start_worker(pool="prefork")
    disk = scratch / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(64 * MiB)
    dev = loops(disk)
    backend = provisioned(w, actor, "block", "disk", size_bytes=None, params={"device": dev})
    clone = scratch / "clone.img"
    clone.write_bytes(disk.read_bytes())
    before = digest(clone)
    detach(dev)
    loops(clone, dev)

    all_refused(backend, actor, w, f"the device now at {dev} is not this backend's",
                lambda: digest(clone) == before, activate=True)  # fmt: skip
    assert "backing file" in backend.observed_error
