"""End to end through a real worker, Redis, PostgreSQL and the kernel: a check job finds an
area swapped off by hand, auto-repair queues the activate job, the worker runs it, the next
check is clean, and both changes reach a real webhook on loopback; the first delivery is
refused and the worker's retry comes after the back-off."""

from __future__ import annotations

import pytest

from backends import kernel
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from swapadmin.health.models import BackendHealth, HealthEvent
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job, wait_until

from .conftest import CALM, MiB, swapoff_by_hand

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_drift_is_found_repaired_and_notified(start_worker, alice, hook_factory):
    hook = hook_factory([500, 200, 200])
    worker = start_worker(
        env={
            "SWAPADMIN_WEBHOOK_URL": hook.url,
            "SWAPADMIN_WEBHOOK_RETRY_SECONDS": "2",
            **{name: str(value) for name, value in CALM.items()},
        }
    )
    actor = Actor(alice, Job.Via.API)
    path = worker.swap_root / "drifty"
    job = services.create_backend(
        host=worker.host, kind="file", name="drifty", size_bytes=16 * MiB, actor=actor,
        params={"path": str(path)}, priority=5, label="drifty", auto_repair=True,
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == "succeeded"
    backend = Backend.objects.get(name="drifty")
    job = services.request_action(backend, "activate", actor)
    assert wait_for_job(job, 60, worker=worker).state == "succeeded"
    assert kernel.is_active(str(path))
    first = wait_for_job(services.request_action(backend, "check", Actor.schedule()), 60)
    assert first.result["status"] == "ok", first.result

    swapoff_by_hand(str(path))
    check = services.request_action(backend, "check", Actor.schedule())
    check = wait_for_job(check, 60, worker=worker)

    assert check.state == "succeeded", check.error
    drift = next(f for f in check.result["findings"] if f["check"] == "drift")
    assert drift["status"] == "fail"
    repair = Job.objects.get(uuid=check.result["repair_job"])
    assert (repair.kind, repair.via) == ("activate", "schedule")
    repair = wait_for_job(repair, 60, worker=worker)
    assert repair.state == "succeeded", repair.error
    area = kernel.find_area(str(path))
    assert area is not None and area.priority == 5

    again = wait_for_job(services.request_action(backend, "check", Actor.schedule()), 60)
    assert again.result["status"] == "ok", again.result
    health = BackendHealth.objects.get(backend=backend)
    assert (health.status, health.repair_attempts) == ("ok", 0)
    changes = [(e.from_status, e.to_status) for e in HealthEvent.objects.filter(backend=backend)]
    assert sorted(changes) == [("fail", "ok"), ("ok", "fail")]

    # Both events reach the webhook; the first POST was refused and retried after ~2 s.
    wait_until(
        lambda: HealthEvent.objects.filter(backend=backend, delivery="delivered").count() == 2,
        30,
        "both events delivered",
    )
    assert len(hook.bodies) == 3
    refused = hook.bodies[0]["event"]
    posts = [t for b, t in zip(hook.bodies, hook.times, strict=True) if b["event"] == refused]
    assert len(posts) == 2
    assert posts[1] - posts[0] >= 1.8
    assert {(b["from"], b["to"]) for b in hook.bodies} == {("ok", "fail"), ("fail", "ok")}

    services.request_action(backend, "deactivate", actor)  # leave the host as we found it
    wait_until(lambda: not kernel.is_active(str(path)), 30, "the area deactivated")
