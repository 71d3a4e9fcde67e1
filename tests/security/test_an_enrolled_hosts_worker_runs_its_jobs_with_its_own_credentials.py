"""A host's worker started with nothing but the worker.env that ``enroll-host`` printed
(its own database role, its own broker user, the public key, its own queue only) registers,
samples, runs jobs the control plane signed for it (a provision, a health check) to
success, and passes its liveness check: the grants and the ACL
are enough for a worker's whole round. Nothing it did was refused by the database or the
broker (the worker's log and the broker's ACL log say so), and it never took the control
queue's messages."""

from __future__ import annotations

import subprocess
import sys

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job, Sample
from swapadmin.core.services import Actor
from swapadmin.health.models import BackendHealth, CheckResult
from tests.faults.own_servers import celery_sends_to
from tests.fixtures.host import needs_root
from tests.fixtures.workers import REPO, wait_for_job

from .enrolled import Enrolled, enrolled  # noqa: F401  (a fixture)
from .signed import VERIFY_ONLY, MiB

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_runs_a_signed_job_of_its_own_host(enrolled: Enrolled, start_worker, alice):  # noqa: F811
    a = enrolled.host()
    admin = enrolled.admin()
    with celery_sends_to(enrolled.broker.url):
        # Its env only, over the test defaults (which name the owner's database URL).
        w = start_worker(name=a.host.name, pool="prefork", env={**VERIFY_ONLY, **a.env})
        assert w.env["DATABASE_URL"] == a.env["DATABASE_URL"]
        admin.lpush("control", b"not for a host's worker")
        job = services.create_backend(
            host=w.host, kind="file", name="s0", size_bytes=16 * MiB,
            actor=Actor(alice, Job.Via.API), params={"path": str(w.swap_root / "s0")},
        )  # fmt: skip
        job = wait_for_job(job, 60, worker=w)
        assert job.state == Job.State.SUCCEEDED, f"{job.error}\n{w.log()[-3000:]}"
        assert (w.swap_root / "s0").exists()
        assert Sample.objects.filter(host=w.host).exists()
        # A check writes the health tables (result, the backend's and the host's health).
        backend = Backend.objects.get(host=w.host, name="s0")
        check = services.request_action(backend, Job.Kind.CHECK, Actor(alice, Job.Via.API))
        check = wait_for_job(check, 60, worker=w)
        assert check.state == Job.State.SUCCEEDED, f"{check.error}\n{w.log()[-3000:]}"
        assert CheckResult.objects.filter(job=check).exists()
        assert BackendHealth.objects.get(backend=backend).last_result is not None
        # Its liveness check, as compose runs it, with its own credentials.
        alive = subprocess.run(
            [sys.executable, "manage.py", "worker-alive"], cwd=REPO, env=w.env,
            capture_output=True,
        )  # fmt: skip
        assert alive.returncode == 0, alive.stderr.decode()[-2000:]
        w.stop()
    log = w.log()
    refusals = ("permission denied", "row-level security", "NOPERM", "no permissions")
    for refusal in refusals:
        assert refusal not in log, log[-4000:]
    refused = [{k: entry[k] for k in ("reason", "object")} for entry in admin.acl_log()]
    assert refused == [], refused
    assert admin.lrange("control", 0, -1) == [b"not for a host's worker"]
