"""A job dispatched to its host's queue whose message is lost (the queue purged, a broker
restarted without persistence) while the host's worker is away. Back, the worker has
nothing to take; the sweep sends the message again (``services.resend_lost``, which the
periodic sweep runs), and the job runs, once: a duplicate message finds it claimed."""

from __future__ import annotations

import pytest
import redis

from swapadmin.core import services
from swapadmin.core.models import Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import redis_url, wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def test_the_job_runs_once_after_its_message_is_sent_again(start_worker, alice):
    actor = Actor(alice, Job.Via.API)
    first = start_worker()
    first.stop()
    host = first.host
    assert host.online  # for a while yet: its last heartbeat is seconds old
    job = services.create_backend(
        host=host, kind="file", name="m0", size_bytes=16 * MiB, actor=actor,
        params={"path": str(first.swap_root / "m0")},
    )  # fmt: skip
    job.refresh_from_db()
    assert job.dispatched_at is not None
    assert redis.Redis.from_url(redis_url()).delete(host.queue) == 1  # the message is lost

    second = start_worker(name=first.name)
    assert Job.objects.get(pk=job.pk).state == Job.State.QUEUED
    assert services.resend_lost(after_seconds=0) == 1
    job = wait_for_job(job, 60, worker=second)
    assert job.state == Job.State.SUCCEEDED, job.error
    # Sent again once more: the claim finds it done, nothing runs twice.
    services.dispatch(job.pk)
    assert services.resend_lost(after_seconds=0) == 0
    assert Job.objects.filter(backend=job.backend, kind=Job.Kind.PROVISION).count() == 1
