"""A worker given no key to verify signatures with (SWAPADMIN_VERIFY_KEY unset, and no
signing key of its own) does not fall back to trusting the rows: every job is refused with
the setting to fix, and nothing is made."""

from __future__ import annotations

import pytest

from swapadmin.core import services
from swapadmin.core.models import Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

from .signed import MiB, host_worker, refused

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_refuses_a_signed_job(start_worker, alice):
    worker = host_worker(start_worker, env={"SWAPADMIN_VERIFY_KEY": ""})
    path = worker.swap_root / "s0"
    job = services.create_backend(
        host=worker.host, kind="file", name="s0", size_bytes=16 * MiB,
        actor=Actor(alice, Job.Via.API), params={"path": str(path)},
    )  # fmt: skip

    job = wait_for_job(job, 60, worker=worker)

    assert refused(job), (job.state, job.error)
    assert "no key to verify job signatures with (set SWAPADMIN_VERIFY_KEY" in job.error
    assert not path.exists()
