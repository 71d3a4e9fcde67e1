"""Beat's round of checks reaches each host's own worker as one message naming the host:
the worker checks every backend of its host and the host itself, and records results and
current health as a check job did, with no Job row (500 hosts x 8 backends once a minute
were 5.8 million job rows a day). A check someone asks for is still a job."""

from __future__ import annotations

import pytest
from django.utils import timezone

from swapadmin.core import services
from swapadmin.core.models import Job
from swapadmin.core.services import Actor
from swapadmin.health.models import BackendHealth, CheckResult, HostHealth
from swapadmin.health.tasks import schedule_checks
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

from .conftest import CALM
from .rounds import made_backend, wait_for_round

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CALM_ENV = {k: str(v) for k, v in CALM.items()}


def test_a_round_checks_every_backend_and_makes_no_job(start_worker, alice):
    worker = start_worker(env=CALM_ENV)
    actor = Actor(alice, Job.Via.API)
    on = made_backend(worker, actor, "on", active=True)
    off = made_backend(worker, actor, "off")
    jobs_before = Job.objects.count()

    since = timezone.now()
    assert schedule_checks() == 1  # one message, to host.<name>
    host_result = wait_for_round(worker, since)

    for backend in (on, off):
        result = CheckResult.objects.get(backend=backend, at__gt=since)
        assert result.job is None
        assert result.status == "ok", result.findings
        checks = {f["check"] for f in result.findings}
        assert {"identity", "header", "drift"} <= checks, checks
        health = BackendHealth.objects.get(backend=backend)
        assert (health.last_result, health.status) == (result, "ok")
    assert HostHealth.objects.get(host=worker.host).last_result == host_result
    assert Job.objects.count() == jobs_before
    assert not Job.objects.filter(kind=Job.Kind.CHECK).exists()

    # The next minute's round runs as well: one result more per backend, still no job.
    since = timezone.now()
    assert schedule_checks() == 1
    wait_for_round(worker, since)
    assert CheckResult.objects.filter(backend__in=[on, off], at__gt=since).count() == 2
    assert Job.objects.count() == jobs_before

    off_now = wait_for_job(services.request_action(on, "deactivate", actor), 60, worker=worker)
    assert off_now.state == "succeeded", off_now.error


def test_a_check_someone_asks_for_is_still_a_job(start_worker, alice):
    worker = start_worker(env=CALM_ENV)
    backend = made_backend(worker, Actor(alice, Job.Via.API), "asked")

    check = services.request_action(backend, Job.Kind.CHECK, Actor(alice, Job.Via.PAGE))
    check = wait_for_job(check, 60, worker=worker)

    assert (check.kind, check.state, check.via) == ("check", "succeeded", "page")
    result = CheckResult.objects.get(backend=backend)
    assert result.job == check
    assert check.result["result"] == str(result.uuid)
