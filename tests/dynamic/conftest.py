"""Fixtures for dynamic swap: the cgroup memory hog of the health tests (it fills swap for
real, inside a memory cgroup with a small limit, and removes its cgroup on every path), a
policy on a worker's host, and a way to drive the policy's rounds by hand instead of
waiting for beat."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from backends import kernel
from backends.dynamic import Decision
from swapadmin.core import dynamic
from swapadmin.core.models import Backend, DynamicSwapPolicy, Host, Job, Sample
from tests.fixtures.workers import WorkerProcess
from tests.health.conftest import MemoryHog, memory_hog  # noqa: F401  (the fixture)

MiB = 1 << 20
QUIET_WAIT_SECONDS = 180.0


def only_our_swap(worker: WorkerProcess) -> None:
    """The hog must swap to the test's areas and nowhere else, and free swap must be the
    test's to decide: any other active area of the machine (another run's) skips the test
    rather than let it absorb the hog or move the threshold."""

    def others() -> list[str]:
        mine = str(worker.swap_root)
        return [a.path for a in kernel.swap_areas() if not a.path.startswith(mine)]

    # Another test run's area is usually gone within seconds: wait for it a while.
    deadline = time.monotonic() + QUIET_WAIT_SECONDS
    while (found := others()) and time.monotonic() < deadline:
        time.sleep(0.5)
    if found:
        pytest.skip(f"other swap areas are active on this machine: {', '.join(found)}")


def make_policy(host: Host, **fields: Any) -> DynamicSwapPolicy:
    policy = dynamic.policy_for(host)
    for k, v in fields.items():
        setattr(policy, k, v)
    policy.save()
    return policy


def small_policy(host: Host, **fields: Any) -> DynamicSwapPolicy:
    """A policy that adds a 64 MiB file while less than 32 MiB of swap is free, two files
    at most, with no cooldown between steps; ``fields`` changes any of that."""
    small = {
        "enabled": True, "min_free_bytes": 32 * MiB, "file_size_bytes": 64 * MiB,
        "max_files": 2, "max_total_bytes": 128 * MiB, "cooldown_seconds": 0,
    }  # fmt: skip
    return make_policy(host, **{**small, **fields})


def file_after_step(
    policy: DynamicSwapPolicy, step: str, finished_ago: timedelta, **fields: Any
) -> Backend:
    """The policy's first file, dyn-1 (at a path nothing reads), provisioned before its
    ``step`` job, which succeeded ``finished_ago``; ``fields`` are the row's own."""
    now = timezone.now()
    row = {
        "size_bytes": 64 * MiB, "provisioned_at": now - finished_ago - timedelta(seconds=25),
        **fields,
    }  # fmt: skip
    dyn1 = Backend.objects.create(
        host=policy.host, kind="file", name="dyn-1", params={"path": "/nowhere/dyn-1"},
        dynamic_policy=policy, **row,
    )  # fmt: skip
    Job.objects.create(
        kind=step, host=policy.host, backend=dyn1, backend_name="dyn-1", via=Job.Via.SYSTEM,
        state=Job.State.SUCCEEDED, finished_at=now - finished_ago,
    )  # fmt: skip
    return dyn1


def live_jobs(host: Host) -> bool:
    return Job.objects.filter(host=host, state__in=Job.LIVE).exclude(kind=Job.Kind.CHECK).exists()


def wait(
    predicate: Callable[[], Any], timeout: float, what: str, w: WorkerProcess,
    also: Callable[[], Any] | None = None,
) -> Any:  # fmt: skip
    """``predicate``'s first true value; on timeout, what ``also`` says then, and the log."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = f" (last seen: {also()!r})" if also is not None else ""
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}{seen}\n{w.log()[-3000:]}"
            )
        time.sleep(0.1)


def fresh_sample(host: Host, after: Any, w: WorkerProcess, timeout: float = 20) -> Sample:
    """A sample the worker took after ``after`` (a datetime): what the policy reads next."""
    return wait(
        lambda: Sample.objects.filter(host=host, at__gt=after).order_by("-at").first(),
        timeout,
        "a fresh sample",
        w,
    )


def round_(policy: DynamicSwapPolicy, w: WorkerProcess, timeout: float = 90) -> Decision:
    """One round of the policy, then the jobs it queued run to their end."""
    decision = dynamic.run_policy(policy)
    wait(lambda: not live_jobs(policy.host), timeout, "the policy's jobs to finish", w)
    return decision
