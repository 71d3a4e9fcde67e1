"""The minute's round of checks (one message to the host's queue, no Job row) reaches a
host's worker started with nothing but its enrolled worker.env: its broker user takes the
message from its own queue, its database role reads its own rows and writes the results
and health rows; nothing is refused by the database or the broker."""

from __future__ import annotations

import pytest
from django.utils import timezone

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from swapadmin.health.models import BackendHealth, CheckResult, HostHealth
from swapadmin.health.tasks import schedule_checks
from tests.faults.own_servers import celery_sends_to
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job, wait_until
from tests.health.conftest import CALM

from .enrolled import Enrolled, enrolled  # noqa: F401  (a fixture)
from .signed import VERIFY_ONLY, MiB

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CALM_ENV = {name: str(value) for name, value in CALM.items()}


def test_its_round_runs_with_its_own_credentials(enrolled: Enrolled, start_worker, alice):  # noqa: F811
    a = enrolled.host()
    admin = enrolled.admin()
    with celery_sends_to(enrolled.broker.url):
        # Calm thresholds: a change of status raises an event, which a host's worker cannot
        # queue for notification (the control plane sends it later, by design): a refusal
        # in the log this test is not about.
        w = start_worker(name=a.host.name, env={**VERIFY_ONLY, **a.env, **CALM_ENV})
        job = services.create_backend(
            host=w.host, kind="file", name="s0", size_bytes=16 * MiB,
            actor=Actor(alice, Job.Via.API), params={"path": str(w.swap_root / "s0")},
        )  # fmt: skip
        assert wait_for_job(job, 60, worker=w).state == Job.State.SUCCEEDED, w.log()[-3000:]
        backend = Backend.objects.get(host=w.host, name="s0")
        jobs = Job.objects.count()

        since = timezone.now()
        assert schedule_checks() == 1
        result = wait_until(
            lambda: CheckResult.objects.filter(backend=backend, at__gt=since).first(),
            60,
            f"the round's result; log:\n{w.log()[-3000:]}",
        )
        wait_until(
            lambda: CheckResult.objects.filter(host=w.host, backend=None, at__gt=since).exists(),
            60,
            "the round's host-level result",
        )
        assert result.job is None
        assert BackendHealth.objects.get(backend=backend).last_result == result
        assert HostHealth.objects.get(host=w.host).round_requested_at is None
        assert Job.objects.count() == jobs
        w.stop()
    log = w.log()
    for refusal in ("permission denied", "row-level security", "NOPERM", "no permissions"):
        assert refusal not in log, log[-4000:]
    refused = [{k: entry[k] for k in ("reason", "object")} for entry in admin.acl_log()]
    assert refused == [], refused
