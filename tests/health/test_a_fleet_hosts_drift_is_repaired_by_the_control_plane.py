"""A fleet host's worker holds only the public key: it cannot sign the repair its check
calls for, so the check records the drift and queues nothing, and the control plane queues
the repair at its next round of checks (``schedule_checks`` → ``repair_drifted``), signed;
the host's worker runs it. Before, the worker queued the repair unsigned, and its own gate
refused it: auto-repair never worked on a fleet host."""

from __future__ import annotations

import pytest

from backends import kernel
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from swapadmin.health.models import BackendHealth
from swapadmin.health.tasks import repair_drifted
from tests.fixtures.host import needs_root
from tests.fixtures.signing import VERIFY_ONLY
from tests.fixtures.workers import wait_for_job

from .conftest import CALM, MiB, swapoff_by_hand

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_control_plane_queues_the_repair_the_host_found(start_worker, alice):
    worker = start_worker(env={**VERIFY_ONLY, **{k: str(v) for k, v in CALM.items()}})
    actor = Actor(alice, Job.Via.API)
    path = worker.swap_root / "drifty"
    job = services.create_backend(
        host=worker.host, kind="file", name="drifty", size_bytes=16 * MiB, actor=actor,
        params={"path": str(path)}, priority=5, auto_repair=True,
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == "succeeded"
    backend = Backend.objects.get(name="drifty", host=worker.host)
    on = wait_for_job(services.request_action(backend, "activate", actor), 60, worker=worker)
    assert on.state == "succeeded", on.error

    swapoff_by_hand(str(path))
    check = wait_for_job(services.request_action(backend, "check", Actor.schedule()), 60)
    assert check.state == "succeeded", check.error
    drift = next(f for f in check.result["findings"] if f["check"] == "drift")
    assert drift["status"] == "fail"
    assert "repair_job" not in check.result  # the host could not sign one
    assert not Job.objects.filter(backend=backend, kind="activate", via="schedule").exists()

    assert repair_drifted() == 1  # the control plane's round
    assert repair_drifted() == 0  # queued once, not once a round
    repair = Job.objects.get(backend=backend, kind="activate", via="schedule")
    repair = wait_for_job(repair, 60, worker=worker)
    assert repair.state == "succeeded", repair.error
    assert kernel.find_area(str(path)) is not None

    again = wait_for_job(services.request_action(backend, "check", Actor.schedule()), 60)
    assert again.result["status"] == "ok", again.result
    assert repair_drifted() == 0
    health = BackendHealth.objects.get(backend=backend)
    assert (health.repair_attempts, health.next_repair_at) == (0, None)  # reset
    off = wait_for_job(services.request_action(backend, "deactivate", actor), 60, worker=worker)
    assert off.state == "succeeded", off.error
