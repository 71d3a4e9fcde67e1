"""A round has no job to hang a repair on, and needs none: what it finds is recorded, and
a drifted backend with auto-repair still gets its repair, a signed job. On a fleet host
(the worker holds only the public key) the control plane queues it from the round's
result; on one machine (`make run`, the worker holds the key) too: a round is an unsigned
message, and the worker queues nothing on its word even where it could sign."""

from __future__ import annotations

import pytest
from django.utils import timezone

from backends import kernel
from swapadmin.core.models import Job
from swapadmin.core.services import Actor
from swapadmin.health.models import BackendHealth, CheckResult
from swapadmin.health.tasks import repair_drifted, schedule_checks
from tests.fixtures.host import needs_root
from tests.fixtures.signing import VERIFY_ONLY
from tests.fixtures.workers import wait_for_job

from .conftest import CALM, swapoff_by_hand
from .rounds import made_backend, wait_for_round

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("keys", ["fleet host", "one machine"])
def test_a_drifted_backend_gets_one_signed_repair(start_worker, alice, keys):
    env = {k: str(v) for k, v in CALM.items()}
    if keys == "fleet host":
        env.update(VERIFY_ONLY)
    worker = start_worker(env=env)
    backend = made_backend(
        worker, Actor(alice, Job.Via.API), "drifty", active=True, priority=5, auto_repair=True
    )
    path = backend.params["path"]
    swapoff_by_hand(path)

    since = timezone.now()
    assert schedule_checks() == 1
    wait_for_round(worker, since)
    result = CheckResult.objects.get(backend=backend, at__gt=since)
    drift = next(f for f in result.findings if f["check"] == "drift")
    assert (result.job, drift["status"], drift["value"]["repair"]) == (None, "fail", "activate")
    assert BackendHealth.objects.get(backend=backend).status == "fail"
    assert not Job.objects.filter(backend=backend, kind="activate", via="schedule").exists()

    repair_drifted()  # the control plane's look, as at its next round
    repair_drifted()
    repair = Job.objects.get(backend=backend, kind="activate", via="schedule")  # one
    repair = wait_for_job(repair, 60, worker=worker)
    assert repair.state == "succeeded", repair.error
    assert repair.signature  # signed, as every job
    assert kernel.find_area(path) is not None
    assert not Job.objects.filter(kind=Job.Kind.CHECK).exists()

    since = timezone.now()
    assert schedule_checks() == 1
    wait_for_round(worker, since)
    assert CheckResult.objects.get(backend=backend, at__gt=since).status == "ok"
    swapoff_by_hand(path)
