"""Fixtures for dynamic swap: the cgroup memory hog of the health tests (it fills swap for
real, inside a memory cgroup with a small limit, and removes its cgroup on every path), a
policy on a worker's host, and a way to drive the policy's rounds by hand instead of
waiting for beat."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from backends import kernel
from backends.dynamic import Decision
from swapadmin.core import dynamic
from swapadmin.core.models import DynamicSwapPolicy, Host, Job, Sample
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
