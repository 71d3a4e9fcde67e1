"""The check schedule lives in django-celery-beat's tables: a change made in the database
(as the admin makes it) reaches a running beat process without restarting it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
import redis
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from swapadmin.health.schedule import CHECKS_TASK
from tests.fixtures import workers
from tests.fixtures.workers import CELERY, REPO, redis_url, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def beat(scratch: Path):
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="swapadmin.settings",
        DATABASE_URL=workers.test_database_url(),
        REDIS_URL=redis_url(),
        SWAPADMIN_DATA_DIR=str(scratch / "data"),
        PYTHONUNBUFFERED="1",
    )
    log = scratch / "beat.log"
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        argv = [
            CELERY, "-A", "swapadmin", "beat", "-l", "info", "--max-interval", "1",
            "--pidfile", str(scratch / "beat.pid"),
        ]  # fmt: skip
        with open(log, "ab") as out:
            procs.append(
                subprocess.Popen(
                    argv,
                    cwd=REPO,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            )
        return procs[-1]

    start.log = lambda: log.read_text(errors="replace") if log.exists() else ""  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


def test_a_changed_interval_takes_effect_without_restarting_beat(beat):
    queue = f"beat-test-{uuid.uuid4().hex[:8]}"
    marker = f"{queue}-marker"
    client = redis.Redis.from_url(redis_url())
    # Only our probe and a marker run, to queues no worker reads: we count what beat sends.
    PeriodicTask.objects.update(enabled=False)
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)
    every_second, _ = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.SECONDS
    )
    task = PeriodicTask.objects.create(
        name="probe: health checks", task=CHECKS_TASK, interval=hourly, queue=queue
    )
    PeriodicTask.objects.create(
        name="probe: marker", task=CHECKS_TASK, interval=every_second, queue=marker
    )
    try:
        proc = beat()
        wait_until(lambda: "beat: Starting" in beat.log(), 30, "beat to start")
        # Hourly: nothing due. Beat sends entries in the order they fall due, and the
        # marker's second send falls due seconds in: a probe due by then would go first.
        wait_until(lambda: client.llen(marker) >= 2, 30, f"beat to tick; log:\n{beat.log()}")
        assert client.llen(queue) == 0, beat.log()

        task.interval = every_second
        task.save()  # the same save the admin's change form makes

        wait_until(lambda: client.llen(queue) >= 2, 20, f"beat to send; log:\n{beat.log()}")
        assert proc.poll() is None  # the same beat process, never restarted
        message = json.loads(client.lindex(queue, 0))
        assert message["headers"]["task"] == CHECKS_TASK
    finally:
        client.delete(queue, marker)
