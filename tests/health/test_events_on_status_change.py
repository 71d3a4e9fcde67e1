"""Events are raised when a status changes, never on a check that finds the same."""

from __future__ import annotations

import os

import pytest

from backends import PAGE_SIZE
from swapadmin.health.checks import run_backend_check
from swapadmin.health.models import HealthEvent, HostHealth

from .conftest import check_job

pytestmark = [pytest.mark.root, pytest.mark.django_db]


def damage(path: str) -> bytes:
    fd = os.open(path, os.O_RDWR)
    try:
        saved = os.pread(fd, PAGE_SIZE, 0)
        os.pwrite(fd, b"\0" * 10, PAGE_SIZE - 10)
        os.fsync(fd)
    finally:
        os.close(fd)
    return saved


def restore(path: str, page: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, page, 0)
        os.fsync(fd)
    finally:
        os.close(fd)


def test_it_raises_one_event_per_change(make_file_backend, django_capture_on_commit_callbacks):
    backend = make_file_backend()
    path = backend.params["path"]

    run_backend_check(check_job(backend))
    run_backend_check(check_job(backend))
    assert not HealthEvent.objects.exists()  # unknown -> ok, ok -> ok: nothing to say

    page0 = damage(path)
    with django_capture_on_commit_callbacks() as notifications:
        run_backend_check(check_job(backend))
        run_backend_check(check_job(backend))
    assert len(notifications) == 1  # one notification queued, for the backend's event
    events = list(HealthEvent.objects.filter(backend=backend))
    assert [(e.from_status, e.to_status) for e in events] == [("ok", "fail")]
    assert "swap header" in events[0].message
    assert events[0].result.findings  # what was found travels with the event

    # The host's health is the worst of its results: it follows, recorded but not notified
    # twice (the backend's event was).
    host_event = HealthEvent.objects.get(backend=None)
    assert (host_event.to_status, host_event.delivery) == ("fail", "none")
    assert HostHealth.objects.get(host=backend.host).status == "fail"

    restore(path, page0)
    run_backend_check(check_job(backend))
    latest = HealthEvent.objects.filter(backend=backend).order_by("-at").first()
    assert (latest.from_status, latest.to_status) == ("fail", "ok")
    assert HealthEvent.objects.filter(backend=backend).count() == 2
    assert HostHealth.objects.get(host=backend.host).status == "ok"


def test_a_new_backend_that_fails_at_once_raises_an_event(make_file_backend):
    backend = make_file_backend()
    damage(backend.params["path"])
    run_backend_check(check_job(backend))
    event = HealthEvent.objects.get(backend=backend)
    assert (event.from_status, event.to_status) == ("unknown", "fail")
