"""Task messages sent straight to a host's queue, and rows tampered with in the database: the
worker trusts neither. It re-reads the job, refuses one for another host, rebuilds the plugin
from the row with its own policy (the swap roots of its own environment), and runs the host
checks again, so a forged or tampered request fails with a reason and changes nothing on disk.
This is also the security requirement "the worker refuses a path outside the swap roots even
when the database was tampered with"; it lives here only."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.utils import timezone

from swapadmin.celery import app
from swapadmin.core import services, signing
from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.services import RUN_JOB_TASK, Actor
from tests.badinput.conftest import disk_state
from tests.fixtures.host import needs_root
from tests.fixtures.workers import redis_url, wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def forge(
    host: Host, kind: str, *, job_kind: str = Job.Kind.PROVISION, fields: dict | None = None,
    **params,
) -> Job:  # fmt: skip
    """A Backend and a queued Job written straight into the database, as someone with write
    access to it could, bypassing every check of the web side (``fields``: more columns of
    the row, such as a forged ``state`` or ``provisioned_at``); then its message sent."""
    backend = Backend.objects.create(
        host=host, kind=kind, name=f"forged-{time.monotonic_ns()}", params=params,
        size_bytes=16 * MiB if kind == "file" else None, **(fields or {}),
    )  # fmt: skip
    job = Job.objects.create(kind=job_kind, host=host, backend=backend, backend_name=backend.name)
    # Signed over the forged rows, as if the control plane had been fooled into it: what is
    # shown here is the worker's own checks behind the signature (an unsigned row is refused
    # before them: tests/security/test_a_forged_job_is_refused_by_the_worker.py).
    signing.sign_job(job.pk)
    app.send_task(RUN_JOB_TASK, args=[job.pk], queue=host.queue)
    return job


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_worker_refuses_forged_and_tampered_requests(start_worker, alice, scratch):
    actor = Actor(alice, Job.Via.API)
    w = start_worker()
    host = w.host
    outside = scratch / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_bytes(b"precious\n" * 100)
    watched = (w.swap_root, outside)
    before = disk_state(*watched)
    etc_before = sorted(os.listdir("/etc"))

    # Messages naming no job, or not even a number: nothing runs, the worker carries on.
    app.send_task(RUN_JOB_TASK, args=[2**40], queue=host.queue)
    app.send_task(RUN_JOB_TASK, args=["'; DROP TABLE core_job;--"], queue=host.queue)
    app.send_task(RUN_JOB_TASK, args=[], queue=host.queue)

    # A job of another host, sent to this one: refused and not run here.
    other = Host.objects.create(name=f"{w.name}-other", swap_roots=[str(w.swap_root)])
    foreign = forge(other, "file", path=str(w.swap_root / "foreign"))
    app.send_task(RUN_JOB_TASK, args=[foreign.pk], queue=host.queue)

    # Rows tampered with: a path outside the swap roots, /dev/vda as a file, the root disk
    # as a block device.
    tampered = {
        "outside": forge(host, "file", path=str(victim)),
        "dev-vda-file": forge(host, "file", path="/dev/vda"),
        "etc-file": forge(host, "file", path="/etc/swapadmin-forged"),
        "root-disk": forge(host, "block", device="/dev/vda"),
    }
    for name, job in tampered.items():
        job = wait_for_job(job, 30, worker=w)
        assert job.state == Job.State.FAILED, name
        assert "Traceback" not in job.error and "internal error" not in job.error, job.error
        tampered[name] = job
    for name in ("outside", "dev-vda-file", "etc-file"):
        assert "outside the swap roots" in tampered[name].error, tampered[name].error
    assert "root filesystem" in tampered["root-disk"].error, tampered["root-disk"].error

    # A symlink inside the swap root: accepted by the web side (which cannot see the host),
    # refused by the worker before it creates anything.
    (w.swap_root / "link").symlink_to(outside)
    job = services.create_backend(
        host=host, kind="file", name="linked", size_bytes=16 * MiB, actor=actor,
        params={"path": str(w.swap_root / "link" / "swap")},
    )  # fmt: skip
    job = wait_for_job(job, 30, worker=w)
    assert job.state == Job.State.FAILED and "symbolic link" in job.error, job.error
    (w.swap_root / "link").unlink()

    # A real backend whose row is edited after provisioning: destroy must not delete the file
    # the row now names.
    job = services.create_backend(
        host=host, kind="file", name="real", size_bytes=16 * MiB, actor=actor,
        params={"path": str(w.swap_root / "real")},
    )  # fmt: skip
    assert wait_for_job(job, 30, worker=w).state == Job.State.SUCCEEDED
    real = Backend.objects.get(name="real")
    real_path = w.swap_root / "real"
    real_content = digest(real_path)

    # Rows forged to name that backend's file, marked provisioned so the worker takes up a
    # scan (which writes every page): each is refused before the first byte, by the file's
    # own proof or by the one-store-one-backend rule, whatever the forger copied.
    forged_scans = {
        # Nothing recorded: the file was never formatted by this backend.
        "no-record": {},
        # Its owner made up: it is not the forged backend's own id, so it proves nothing.
        "other-owner": {"store": {"owner": str(uuid.uuid4()), "uuid": str(real.swap_uuid)}},
        # The swap UUID copied from the real row (the database shows it): no secret, so
        # without the store's identity recorded it proves nothing.
        "copied-uuid": {"store": {"uuid": str(real.swap_uuid)}},
    }
    refusals = {
        "no-record": f"{real_path} was never formatted by this backend",
        "other-owner": (f"{real_path}: the record of this backend's store names another backend"),
        "copied-uuid": (
            f"{real_path}: this backend has no record of its store's identity (it never took "
            "one), so nothing proves the store is its own"
        ),
    }
    for name, state in forged_scans.items():
        job = forge(
            host, "file", job_kind=Job.Kind.SCAN, path=str(real_path),
            fields={"state": state, "provisioned_at": timezone.now()},
        )  # fmt: skip
        job = wait_for_job(job, 30, worker=w)
        assert job.state == Job.State.FAILED, name
        assert refusals[name] in job.error, (name, job.error)
        assert "Traceback" not in job.error and "internal error" not in job.error, job.error
        assert digest(real_path) == real_content, name
    assert Backend.objects.get(pk=real.pk).store_key == real.store_key  # and keeps its store

    Backend.objects.filter(pk=real.pk).update(params={"path": str(victim)})
    job = wait_for_job(services.request_action(real, Job.Kind.DESTROY, actor), 30, worker=w)
    assert job.state == Job.State.FAILED and "outside the swap roots" in job.error, job.error
    assert victim.read_bytes() == b"precious\n" * 100

    # The forged messages came first in the queue, so they were all consumed by now.
    assert w.alive()
    foreign.refresh_from_db()
    assert foreign.state == Job.State.QUEUED and foreign.worker == ""
    assert not (w.swap_root / "foreign").exists()
    assert not Path("/etc/swapadmin-forged").exists()
    assert sorted(os.listdir("/etc")) == etc_before
    real_path.unlink()
    assert disk_state(*watched) == before
    wait_until(lambda: "refused" in w.log(), 5, "the worker to log the refusal")
    assert f"is for host {other.name}" in w.log()
    # The refused job was sent on to its own host's queue, which no worker here consumes.
    redis.Redis.from_url(redis_url()).delete(other.queue)


@pytest.mark.parametrize("kind", ["file", "block"])
def test_a_forged_record_without_an_identity_proves_nothing(start_worker, loop_device, kind):
    """A row forged to name a swap area no backend ever took (made by hand, unmanaged),
    marked provisioned, with a store record holding only that area's swap UUID (blkid shows
    it; so did the job results of a backend that once adopted it): no mark, no inode, no
    device identity. A proof needs the recorded identity *and* the swap UUID, so the
    worker's scan is refused and not one byte of the area changes."""
    w = start_worker()
    if kind == "file":
        store = w.swap_root / "handmade"
        subprocess.run(["fallocate", "-l", "16M", str(store)], check=True)
        store.chmod(0o600)
        params = {"path": str(store)}
    else:
        store = Path(loop_device)
        params = {"device": loop_device}
    subprocess.run(["mkswap", "-q", str(store)], check=True)
    swap_uuid = subprocess.run(
        ["blkid", "-s", "UUID", "-o", "value", str(store)], capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    before = digest(store)

    job = forge(
        w.host, kind, job_kind=Job.Kind.SCAN,
        fields={"state": {"store": {"uuid": swap_uuid}}, "provisioned_at": timezone.now()},
        **params,
    )  # fmt: skip
    job = wait_for_job(job, 60, worker=w)

    assert job.state == Job.State.FAILED, job.result
    assert "no record of its store's identity" in job.error, job.error
    assert "Traceback" not in job.error and "internal error" not in job.error, job.error
    assert digest(store) == before
