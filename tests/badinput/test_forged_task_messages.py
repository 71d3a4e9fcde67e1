"""Task messages sent straight to a host's queue, and rows tampered with in the database: the
worker trusts neither. It re-reads the job, refuses one for another host, rebuilds the plugin
from the row with its own policy (the swap roots of its own environment), and runs the host
checks again, so a forged or tampered request fails with a reason and changes nothing on disk.
This is also the security requirement "the worker refuses a path outside the swap roots even
when the database was tampered with"; it lives here only."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import redis

from swapadmin.celery import app
from swapadmin.core import services
from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.services import RUN_JOB_TASK, Actor
from tests.badinput.conftest import disk_state
from tests.fixtures.host import needs_root
from tests.fixtures.workers import redis_url, wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def forge(host: Host, kind: str, *, job_kind: str = Job.Kind.PROVISION, **params) -> Job:
    """A Backend and a queued Job written straight into the database, as someone with write
    access to it could, bypassing every check of the web side; then its message sent."""
    backend = Backend.objects.create(
        host=host, kind=kind, name=f"forged-{time.monotonic_ns()}", params=params,
        size_bytes=16 * MiB if kind == "file" else None,
    )  # fmt: skip
    job = Job.objects.create(kind=job_kind, host=host, backend=backend, backend_name=backend.name)
    app.send_task(RUN_JOB_TASK, args=[job.pk], queue=host.queue)
    return job


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
    (w.swap_root / "real").unlink()
    assert disk_state(*watched) == before
    wait_until(lambda: "refused" in w.log(), 5, "the worker to log the refusal")
    assert f"is for host {other.name}" in w.log()
    # The refused job was sent on to its own host's queue, which no worker here consumes.
    redis.Redis.from_url(redis_url()).delete(other.queue)
