"""The user-space kind through a real worker, with no line of swapadmin naming it: created
through the services, provisioned by the worker (its daemon started from the worker, in a
session of its own, and its state saved on the row), activated (refused where the daemon
lacks PR_SET_IO_FLUSHER, with the documented words and /proc/swaps unchanged) and
destroyed (loop device, mount, daemon and store all gone)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from swapadmin_userspace.daemon import Daemon
from swapadmin_userspace.plugin import IO_FLUSHER_WHY, io_flusher_granted

from backends import kernel
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import attached_loops, mounts_under, needs_root
from tests.fixtures.workers import WorkerProcess, wait_for_job
from tests.userspace.served import daemons_under

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def test_a_userspace_backend_lives_and_goes(
    uswap_dir: Path, worker: WorkerProcess, alice: object
) -> None:
    actor = Actor(alice, Job.Via.API)  # type: ignore[arg-type]
    path = worker.swap_root / "uswap0"
    job = services.create_backend(
        host=worker.host, kind="userspace", name="u0", size_bytes=16 * MiB, actor=actor,
        params={"path": str(path)},
    )  # fmt: skip
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, f"{job.error}\n{job.log}"
    backend = Backend.objects.get(name="u0")
    state = backend.state
    daemon = Daemon.from_state(state["daemon"])
    assert daemon is not None and daemon.alive() and os.getsid(daemon.pid) == daemon.pid
    assert state["mountpoint"].startswith(f"{uswap_dir}/")
    assert attached_loops()[state["device"]] == f"{state['mountpoint']}/area"
    assert backend.swap_path == state["device"]
    assert backend.observed_state == Backend.Observed.READY

    # By path and priority: what is used of an area may change at any moment.
    swaps = [(a.path, a.priority) for a in kernel.swap_areas()]
    job = services.request_action(backend, Job.Kind.ACTIVATE, actor, {})
    job = wait_for_job(job, 60, worker=worker)
    if io_flusher_granted():
        assert job.state == Job.State.SUCCEEDED, job.error
        assert kernel.is_active(state["device"])
        job = wait_for_job(
            services.request_action(backend, Job.Kind.DEACTIVATE, actor, {}), 60, worker=worker
        )
        assert job.state == Job.State.SUCCEEDED, job.error
    else:
        assert job.state == Job.State.FAILED
        assert IO_FLUSHER_WHY in job.error and "Nothing was changed" in job.error
        assert [(a.path, a.priority) for a in kernel.swap_areas()] == swaps

    backend.refresh_from_db()
    job = wait_for_job(
        services.request_action(backend, Job.Kind.DESTROY, actor, {}), 60, worker=worker
    )
    assert job.state == Job.State.SUCCEEDED, f"{job.error}\n{job.log}"
    assert not Backend.objects.filter(name="u0").exists()
    assert not daemon.alive() and daemons_under(uswap_dir) == []
    assert mounts_under(str(uswap_dir)) == [] and state["device"] not in attached_loops()
    assert not path.exists()
