"""A process's heartbeat thread (core/liveness.py) says every job it runs is alive, and keeps
the writes a job's end could not make while the database was away. Nothing may end it:
before, one error it did not expect (Django's InterfaceError, which is no DatabaseError, as a
closed connection raises) ended the thread for good, every later job of that process looked
dead to the sweep, and a kept end-of-job write that met the same error was given up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import InterfaceError
from django.db.models.functions import Now
from django.utils import timezone

from swapadmin.core.liveness import Registry
from swapadmin.core.models import Job
from tests.fixtures.workers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def registry(settings) -> Iterator[Registry]:
    settings.SWAPADMIN_JOB_HEARTBEAT_SECONDS = 0.2
    r = Registry()
    yield r
    r.stop()


def a_running_job(host) -> Job:
    job = Job.objects.create(
        kind=Job.Kind.SCAN, host=host, state=Job.State.RUNNING, started_at=timezone.now()
    )
    Job.objects.filter(pk=job.pk).update(heartbeat_at=Now() - timedelta(hours=1))
    return job


def beaten_since(job: Job, since) -> bool:
    return Job.objects.filter(pk=job.pk, heartbeat_at__gt=since).exists()


def test_a_write_that_meets_a_closed_connection_is_kept_and_written_later(registry, host_row):
    job = a_running_job(host_row)
    registry.add(job.pk)
    tries: list[int] = []

    def end_of_job() -> None:
        tries.append(1)
        if len(tries) == 1:
            raise InterfaceError("connection already closed")
        Job.objects.filter(pk=job.pk).update(state=Job.State.SUCCEEDED)

    registry.defer(job.pk, end_of_job, "the job's end")
    wait_until(
        lambda: Job.objects.get(pk=job.pk).state == Job.State.SUCCEEDED,
        30, "the kept write to be written once the connection works",
    )  # fmt: skip
    assert len(tries) == 2


def test_the_thread_beats_on_after_a_write_fails_for_another_reason(registry, host_row):
    first = a_running_job(host_row)
    registry.add(first.pk)

    def broken() -> None:
        raise ValueError("a write the database would refuse for good")

    registry.defer(first.pk, broken, "a broken write")
    wait_until(lambda: first.pk not in registry.running(), 30, "the broken write given up")
    # A later job of the same process is still said to be alive.
    later = a_running_job(host_row)
    since = timezone.now()
    registry.add(later.pk)
    wait_until(lambda: beaten_since(later, since), 30, "a heartbeat for the later job")
