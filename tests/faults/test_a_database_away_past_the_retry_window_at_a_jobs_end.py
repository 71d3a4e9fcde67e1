"""PostgreSQL stops while a benchmark runs and stays away past the end of the job and past
the time the worker retries recording that end (SWAPADMIN_DB_OUTAGE_SECONDS, 2 s here).
The job's end is then kept by the worker process's heartbeat thread and written as soon as
the database is back: the job ends with its real outcome, never left running, and nobody
fails it meanwhile (a sweep right after the restart judges no one)."""

from __future__ import annotations

import pytest

from swapadmin.core import services, tasks
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.faults.own_servers import django_on, own_postgres, reconnecting
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def test_the_jobs_end_is_written_when_the_database_is_back(start_worker, settings):
    actor = Actor(None, Job.Via.API)
    settings.SWAPADMIN_JOB_STALE_SECONDS = 10
    with own_postgres() as pg, django_on(pg):
        w = start_worker(env={"SWAPADMIN_DB_OUTAGE_SECONDS": "2"})
        try:
            job = services.create_backend(
                host=w.host, kind="file", name="d0", size_bytes=16 * MiB, actor=actor,
                params={"path": str(w.swap_root / "d0")},
            )  # fmt: skip
            assert wait_for_job(job, 60, worker=w).state == Job.State.SUCCEEDED
            backend = Backend.objects.get(name="d0")
            bench = services.request_action(backend, Job.Kind.BENCHMARK, actor, {"seconds": 3})
            wait_until(
                lambda: Job.objects.get(pk=bench.pk).progress_message.startswith("benchmark:"),
                60, "the benchmark's first progress report",
            )  # fmt: skip
            pg.stop()
            try:
                wait_until(
                    lambda: "kept until the database takes it" in w.log(), 60,
                    "the worker to give up retrying and keep the job's end",
                )  # fmt: skip
            finally:
                pg.start()
            bench = reconnecting(lambda: wait_for_job(bench, 60, worker=w))
            assert bench.state == Job.State.SUCCEEDED, (bench.state, bench.error)
            assert bench.result["benchmark"]["rand_read_iops"] > 0
            assert "written now that the database is back" in w.log()
            assert tasks.sweep()["failed"] == 0
            scan = services.request_action(backend, Job.Kind.SCAN, actor, {"patterns": 1})
            assert wait_for_job(scan, 60, worker=w).state == Job.State.SUCCEEDED
        finally:
            w.stop()
