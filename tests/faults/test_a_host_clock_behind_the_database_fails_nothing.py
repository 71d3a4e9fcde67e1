"""A host whose clock is 60 s behind the database's (for real: the worker runs under
libfaketime). Its jobs' heartbeats and its host's heartbeat are written in the database's
clock, so a sweep (here in this process, on the real clock, while a benchmark runs) finds
them fresh: the job is not failed, the host is online, and the job ends as it should."""

from __future__ import annotations

import shutil

import pytest

from swapadmin.core import services, tasks
from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.services import Actor
from tests.fixtures.clock import clock_off_by
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def test_a_job_of_a_host_60_s_behind_is_not_failed(start_worker, alice, settings):
    assert shutil.which("faketime"), "faketime is missing: make deps installs it"
    settings.SWAPADMIN_JOB_STALE_SECONDS = 10
    actor = Actor(alice, Job.Via.API)
    w = start_worker(env=clock_off_by(-60))
    assert "2026" in w.log() or w.alive()
    job = services.create_backend(
        host=w.host, kind="file", name="c0", size_bytes=32 * MiB, actor=actor,
        params={"path": str(w.swap_root / "c0")},
    )  # fmt: skip
    made = wait_for_job(job, 60, worker=w)
    assert made.state == Job.State.SUCCEEDED, made.error
    backend = Backend.objects.get(name="c0", host=w.host)
    bench = services.request_action(backend, Job.Kind.BENCHMARK, actor, {"seconds": 4})
    wait_until(
        lambda: Job.objects.get(pk=bench.pk).progress_message.startswith("benchmark:"),
        60, "the benchmark's first progress report",
    )  # fmt: skip
    sweeps = 0
    while not Job.objects.get(pk=bench.pk).finished:
        assert tasks.sweep()["failed"] == 0
        assert Host.objects.get(name=w.name).online
        sweeps += 1
    bench = wait_for_job(bench, 60, worker=w)
    assert bench.state == Job.State.SUCCEEDED, bench.error
    assert sweeps >= 1
