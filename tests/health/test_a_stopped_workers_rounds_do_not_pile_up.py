"""While a host's worker is stopped (and its host not yet judged offline), beat keeps
asking for rounds: the host gets one message, not one a minute, and the worker that comes
back runs that one round."""

from __future__ import annotations

import pytest
import redis
from django.utils import timezone

from swapadmin.core.models import Job
from swapadmin.health.models import CheckResult, HostHealth
from swapadmin.health.tasks import schedule_checks
from tests.fixtures.host import needs_root
from tests.fixtures.workers import redis_url

from .conftest import CALM
from .rounds import wait_for_round

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_stopped_workers_host_gets_one_round_waiting(start_worker, settings):
    settings.SWAPADMIN_OFFLINE_AFTER_SECONDS = 600  # still online, by its last heartbeat
    env = {k: str(v) for k, v in CALM.items()}
    worker = start_worker(env=env)
    queue = worker.host.queue
    broker = redis.Redis.from_url(redis_url())

    since = timezone.now()
    assert schedule_checks() == 1
    wait_for_round(worker, since)
    worker.stop()

    stopped_at = timezone.now()
    assert schedule_checks() == 1
    assert [schedule_checks() for _ in range(3)] == [0, 0, 0]
    assert broker.llen(queue) == 1
    assert HostHealth.objects.get(host=worker.host).round_requested_at is not None

    back = start_worker(name=worker.name, env=env)
    wait_for_round(back, stopped_at)
    rounds = CheckResult.objects.filter(host=back.host, backend=None, at__gt=stopped_at)
    assert rounds.count() == 1
    assert broker.llen(queue) == 0
    assert not Job.objects.filter(kind=Job.Kind.CHECK).exists()
