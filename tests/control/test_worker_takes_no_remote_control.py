"""Remote control of workers is off unless configured: a shutdown broadcast on the broker
(what `celery control shutdown` sends) stops no worker, and the worker's health check asks
the database instead (`manage.py worker-alive`)."""

from __future__ import annotations

import io

import pytest
import redis
from django.core.management import CommandError, call_command

from swapadmin.celery import app
from swapadmin.core import services
from swapadmin.core.models import Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import redis_url, wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_shutdown_broadcast_stops_no_worker(worker, settings):
    # The worker does not listen for control messages at all: no mailbox on the broker.
    mailboxes = redis.Redis.from_url(redis_url()).smembers("_kombu.binding.celery.pidbox")
    assert not [m for m in mailboxes if m.decode().startswith(f"{worker.name}@")]
    app.control.shutdown()
    job = wait_for_job(
        services.request_host_job(worker.host, Job.Kind.TUNE, Actor(None, Job.Via.API), {}), 60
    )
    assert job.state == Job.State.SUCCEEDED, job.error
    assert worker.alive()

    settings.SWAPADMIN_HOST = worker.name
    out = io.StringIO()
    call_command("worker-alive", stdout=out)
    assert f"the worker of {worker.name} is alive" in out.getvalue()
    settings.SWAPADMIN_HOST = "nobody-runs-this"
    with pytest.raises(CommandError, match="no heartbeat from the worker of nobody-runs-this"):
        call_command("worker-alive")
