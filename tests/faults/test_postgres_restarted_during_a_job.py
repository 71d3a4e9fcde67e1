"""PostgreSQL restarted (``pg_ctlcluster restart -m fast``: every session terminated) while
a worker runs a job, on a cluster of the test's own.

The worker survives and reconnects (its sampler heartbeats again and its next job runs),
and the job that was running when the connection died still records its end: progress and
log writes are best effort and drop the dead connection, and the writes a job's outcome
depends on (the backend's state, the finished row) are retried on a fresh connection until
the database is back (context.persistent). So the backend is never left held by a job that
ended long ago.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from swapadmin.core import services
from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.services import Actor
from tests.faults.own_servers import django_on, own_postgres, reconnecting
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20
BENCH_SECONDS = 4


def test_the_worker_reconnects_and_the_interrupted_job_records_its_end(start_worker):
    actor = Actor(None, Job.Via.API)
    with own_postgres() as pg, django_on(pg):
        w = start_worker()
        try:
            job = services.create_backend(
                host=w.host, kind="file", name="p0", size_bytes=16 * MiB, actor=actor,
                params={"path": str(w.swap_root / "p0")},
            )  # fmt: skip
            assert wait_for_job(job, 30, worker=w).state == Job.State.SUCCEEDED
            backend = Backend.objects.get(name="p0")
            job = services.request_action(
                backend, Job.Kind.BENCHMARK, actor, {"seconds": BENCH_SECONDS}
            )
            wait_for_job(job, 30, until=(Job.State.RUNNING,), worker=w)
            # The benchmark is in its I/O loop (it reports its progress from there).
            wait_until(
                lambda: Job.objects.get(pk=job.pk).progress_message.startswith("benchmark:"),
                30, "the benchmark's first progress report",
            )  # fmt: skip
            pg.restart()
            restarted = timezone.now()

            # The worker lives on and reconnects: its heartbeat moves again ...
            wait_until(
                lambda: reconnecting(
                    lambda: Host.objects.filter(name=w.name, last_heartbeat__gt=restarted).exists()
                ),
                20, "a heartbeat after the restart",
            )  # fmt: skip
            assert w.alive()
            # ... and its next job runs.
            other = reconnecting(
                lambda: services.create_backend(
                    host=w.host, kind="file", name="p1", size_bytes=16 * MiB, actor=actor,
                    params={"path": str(w.swap_root / "p1")},
                )
            )  # fmt: skip
            assert wait_for_job(other, 30, worker=w).state == Job.State.SUCCEEDED

            # The benchmark ran through the restart and its row says how it ended.
            job = reconnecting(lambda: wait_for_job(job, BENCH_SECONDS + 30, worker=w))
            assert job.state == Job.State.SUCCEEDED, (job.state, job.error)
            assert job.result["benchmark"]["rand_read_iops"] > 0
            assert "database" in w.log()  # the lost write was noticed, and retried
            # The backend is free again: the next action is accepted.
            scan = services.request_action(backend, Job.Kind.SCAN, actor)
            assert wait_for_job(scan, 60, worker=w).state == Job.State.SUCCEEDED
        finally:
            w.stop()
