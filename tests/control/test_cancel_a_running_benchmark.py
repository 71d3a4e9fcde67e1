"""Cancelling a running benchmark: it stops before its next slice of requests (a tenth of a
second of I/O, once the runner's throttled look at the row sees the cancel), not at the end
of its two minutes; the job says cancelled, the header is unchanged and the backend is free
for the next job."""

from __future__ import annotations

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_running_benchmark_stops_when_cancelled(worker, alice):
    actor = Actor(alice, Job.Via.API)
    job = services.create_backend(
        host=worker.host, kind="file", name="b", size_bytes=64 << 20, actor=actor,
        params={"path": str(worker.swap_root / "b")}, label="kept",
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name="b")
    bench = services.request_action(backend, Job.Kind.BENCHMARK, actor, {"seconds": 120})

    def benchmarking() -> bool:
        bench.refresh_from_db()
        return bench.state == Job.State.RUNNING and "benchmarking for 120 s" in bench.log

    wait_until(benchmarking, 60, "the benchmark under way")
    assert services.cancel_job(bench, actor) is services.Cancel.ASKED  # not yet done
    # Far less than the 120 s it was asked to run: the cancel, not the clock, ended it.
    bench = wait_for_job(bench, 60, worker=worker)
    assert bench.state == Job.State.CANCELLED, bench.error
    assert "benchmark of" in bench.log and "cancelled" in bench.log
    backend.refresh_from_db()
    assert backend.header["label"] == "kept"
    job = services.request_action(backend, Job.Kind.ACTIVATE, actor, {})
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
