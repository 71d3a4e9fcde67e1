"""The broker (a Redis of the test's own, with the production compose file's append-only
persistence) restarted while a worker runs a job, with one job waiting in the queue and one
requested while Redis is down. The running job finishes, the queued message survives the
restart, the job refused by the dead broker stays queued with the reason and is sent again
by the sweep's resend: all three run, each once."""

from __future__ import annotations

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.faults.own_servers import celery_sends_to, own_redis
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def provision(w, name: str, actor: Actor) -> Job:
    return services.create_backend(
        host=w.host, kind="file", name=name, size_bytes=16 * MiB, actor=actor,
        params={"path": str(w.swap_root / name)},
    )  # fmt: skip


def test_nothing_accepted_is_lost(start_worker, alice, scratch):
    actor = Actor(alice, Job.Via.API)
    with own_redis(scratch) as redis, celery_sends_to(redis.url):
        w = start_worker(broker_url=redis.url)
        assert wait_for_job(provision(w, "a", actor), 30, worker=w).state == Job.State.SUCCEEDED
        a = Backend.objects.get(name="a")
        bench = services.request_action(a, Job.Kind.BENCHMARK, actor, {"seconds": 4})
        wait_for_job(bench, 30, until=(Job.State.RUNNING,), worker=w)
        queued = provision(w, "b", actor)  # waits in Redis behind the benchmark (solo pool)
        assert Job.objects.get(pk=queued.pk).dispatched_at is not None

        redis.stop()
        refused = provision(w, "c", actor)
        refused.refresh_from_db()
        assert refused.state == Job.State.QUEUED and refused.dispatched_at is None
        assert "broker is unreachable" in refused.waiting_reason
        redis.start()

        bench = wait_for_job(bench, 60, worker=w)
        assert bench.state == Job.State.SUCCEEDED, bench.error
        assert bench.result["benchmark"]
        queued = wait_for_job(queued, 60, worker=w)
        assert queued.state == Job.State.SUCCEEDED, queued.error

        assert services.resend_undispatched(older_than_seconds=0) == 1  # what the sweep does
        refused = wait_for_job(refused, 60, worker=w)
        assert refused.state == Job.State.SUCCEEDED, refused.error

        # Each ran once (a redelivered message finds its job finished and does nothing).
        assert bench.log.count("benchmarking for") == 1
        for job in (queued, refused):
            assert job.log.count("preparing the backing store") == 1
        assert {b.observed_state for b in Backend.objects.all()} == {Backend.Observed.READY}
        assert sorted(p.name for p in w.swap_root.iterdir()) == ["a", "b", "c"]
        w.stop()
