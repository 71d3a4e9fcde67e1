"""The control plane's worker (``SWAPADMIN_WORKER_QUEUES=control``, the compose ``control``
service) runs the control queue's tasks and nothing of a host's: it consumes no host queue,
registers no Host row and starts no sampler. A host's worker (``=host``) is its mirror: it
consumes its own queue only (tests/security/test_an_enrolled_hosts_worker_runs_*)."""

from __future__ import annotations

import pytest

from swapadmin.celery import app
from swapadmin.core.models import Host
from swapadmin.core.tasks import SWEEP
from tests.faults.own_servers import celery_sends_to, own_redis
from tests.fixtures.workers import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_runs_control_tasks_and_serves_no_host(start_worker, scratch):
    with own_redis(scratch) as broker, celery_sends_to(broker.url):
        w = start_worker(
            broker_url=broker.url, env={"SWAPADMIN_WORKER_QUEUES": "control"}, wait=False
        )
        wait_until(lambda: "ready." in w.log() or not w.alive(), 40, "the worker to be ready")
        assert w.alive(), w.log()[-3000:]
        app.send_task(SWEEP, queue="control")
        wait_until(
            lambda: f"Task {SWEEP}[" in w.log() and "succeeded" in w.log(), 30, "the sweep to run"
        )
        banner = w.log().split("[tasks]")[0]
        assert ".> control " in banner and "host." not in banner, banner
        assert not Host.objects.filter(name=w.name).exists()
