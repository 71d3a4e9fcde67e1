"""The broker is down when a job is requested: the job stays queued and says why, and the
sweep sends it once the broker is back. Nothing accepted is lost."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from swapadmin.celery import app as celery_app
from swapadmin.core import services, tasks
from swapadmin.core.models import Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """A redis-server of this test's own, on a loopback port, that it starts and stops."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise AssertionError("the test's redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


@contextlib.contextmanager
def publishing_to(url: str) -> Iterator[None]:
    """Make this process's Celery app (the web side's) publish to ``url``; its pools for
    the real broker are put back untouched afterwards."""
    saved = celery_app.conf.broker_url, celery_app._pool, celery_app.amqp._producer_pool
    celery_app.conf.broker_url = url
    celery_app._pool = celery_app.amqp._producer_pool = None
    try:
        yield
    finally:
        celery_app.conf.broker_url, celery_app._pool, celery_app.amqp._producer_pool = saved


@pytest.fixture
def broker(scratch: Path) -> Iterator[Broker]:
    b = Broker(free_port(), scratch)
    b.start()
    try:
        yield b
    finally:
        b.stop()


def test_a_job_requested_while_the_broker_is_down_runs_when_it_is_back(start_worker, broker, alice):
    worker = start_worker(broker_url=broker.url)
    actor = Actor(alice, Job.Via.API)
    with publishing_to(broker.url):
        broker.stop()
        started = time.monotonic()
        job = services.request_host_job(worker.host, Job.Kind.DISCOVER, actor)
        assert time.monotonic() - started < 15, "a request must not hang on a dead broker"
        job.refresh_from_db()
        assert job.state == Job.State.QUEUED
        assert job.dispatched_at is None
        assert "broker is unreachable" in job.waiting_reason

        broker.start()
        deadline = time.monotonic() + 30
        while Job.objects.get(pk=job.pk).dispatched_at is None:
            assert time.monotonic() < deadline, (
                f"the sweep never sent the job: {Job.objects.get(pk=job.pk).waiting_reason}"
            )
            tasks.sweep()
            time.sleep(0.5)
        job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.waiting_reason == ""
