"""A signed job is valid until its not-after time (SWAPADMIN_JOB_SIGNATURE_TTL_SECONDS from
signing): one signed longer ago than that, a message kept or sent again by someone, is
refused by the worker, which judges the time by the database's clock. Nothing is made."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from swapadmin.core import services, signing
from swapadmin.core.models import Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

from .signed import MiB, host_worker, refused

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_is_refused(start_worker, alice):
    worker = host_worker(start_worker)
    path = worker.swap_root / "s0"
    ttl = timedelta(seconds=settings.SWAPADMIN_JOB_SIGNATURE_TTL_SECONDS)
    with transaction.atomic():
        job = services.create_backend(
            host=worker.host, kind="file", name="s0", size_bytes=16 * MiB,
            actor=Actor(alice, Job.Via.API), params={"path": str(path)},
        )  # fmt: skip
        # Signed a minute longer ago than a signature lasts.
        assert signing.sign_job(job.pk, now=timezone.now() - ttl - timedelta(minutes=1))

    job = wait_for_job(job, 60, worker=worker)

    assert refused(job), (job.state, job.error)
    assert "authorisation expired at" in job.error
    assert not path.exists()
