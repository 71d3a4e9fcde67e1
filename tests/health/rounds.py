"""Helpers for tests of scheduled rounds: backends made by real jobs on a real worker, and
waiting for the round beat asked for to have run on that worker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from swapadmin.core import services
from swapadmin.core.models import Backend, Host
from swapadmin.core.services import Actor
from swapadmin.health.models import CheckResult, HostHealth
from tests.fixtures.workers import WorkerProcess, wait_for_job, wait_until

MiB = 1 << 20


def made_backend(worker: WorkerProcess, actor: Actor, name: str, **options: Any) -> Backend:
    """A swap file provisioned by a real job on ``worker``'s host (``active=True`` also
    activates it)."""
    active = options.pop("active", False)
    job = services.create_backend(
        host=worker.host, kind="file", name=name, size_bytes=16 * MiB, actor=actor,
        params={"path": str(worker.swap_root / name)}, **options,
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == "succeeded", worker.log()[-3000:]
    backend = Backend.objects.get(host=worker.host, name=name)
    if active:
        on = wait_for_job(services.request_action(backend, "activate", actor), 60, worker=worker)
        assert on.state == "succeeded", on.error
    return backend


def wait_for_round(worker: WorkerProcess, since: datetime, timeout: float = 60) -> CheckResult:
    """The host-level result a round recorded after ``since`` (a round records it last),
    once the round is no longer pending."""
    host = Host.objects.get(name=worker.name)

    def done() -> CheckResult | None:
        if HostHealth.objects.filter(host=host).exclude(round_requested_at=None).exists():
            return None
        return CheckResult.objects.filter(host=host, backend=None, job=None, at__gt=since).first()

    return wait_until(done, timeout, f"a round on {worker.name}; log:\n{worker.log()[-3000:]}")
