"""An adopted swap file outside the swap roots, with auto-repair on, swapped off by hand:
a real check job finds the drift, the repair is an activate job that swaps it on again at
its priority, and not one byte of the file changes (no mkswap, ever). Without its swap
header the repair is refused instead of formatting it."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import kernel
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

from .conftest import CALM, swapoff_by_hand

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def swapfile(scratch: Path) -> Iterator[Path]:
    """A swap file beside the swap root, made and swapped on by hand; taken down after."""
    where = scratch / "elsewhere"
    where.mkdir(mode=0o700)
    path = where / "swapfile"
    subprocess.run(["fallocate", "-l", "16M", str(path)], check=True)
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(path)], check=True)
    subprocess.run(["swapon", "-p", "4", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["swapoff", str(path)], check=False, capture_output=True)
        path.unlink(missing_ok=True)


def adopted(worker, alice, path: Path) -> Backend:
    job = services.request_host_job(
        worker.host, Job.Kind.DISCOVER, Actor(alice, Job.Via.API), {"paths": [str(path)]}
    )
    job = wait_for_job(job, 60, worker=worker)
    assert [a["path"] for a in job.result["adopted"]] == [str(path)], job.result
    backend = Backend.objects.get(host=worker.host, params__path=str(path))
    # As an edit of the backend sets it.
    Backend.objects.filter(pk=backend.pk).update(auto_repair=True)
    backend.refresh_from_db()
    return backend


def check(backend: Backend, worker) -> Job:
    job = wait_for_job(
        services.request_action(backend, "check", Actor.schedule()), 60, worker=worker
    )
    assert job.state == Job.State.SUCCEEDED, job.error
    return job


@pytest.fixture
def calm_worker(start_worker):
    return start_worker(env={name: str(value) for name, value in CALM.items()})


def test_the_repair_swaps_it_on_and_writes_nothing(calm_worker, alice, swapfile):
    backend = adopted(calm_worker, alice, swapfile)
    swapoff_by_hand(str(swapfile))
    before = digest(swapfile)

    found = check(backend, calm_worker)
    repair = Job.objects.get(uuid=found.result["repair_job"])
    assert (repair.kind, repair.via) == ("activate", "schedule")
    repair = wait_for_job(repair, 60, worker=calm_worker)
    assert repair.state == Job.State.SUCCEEDED, repair.error
    area = kernel.find_area(str(swapfile))
    assert area is not None and area.priority == 4

    subprocess.run(["swapoff", str(swapfile)], check=True)
    assert digest(swapfile) == before


def test_without_its_header_the_repair_is_refused_not_formatted(calm_worker, alice, swapfile):
    backend = adopted(calm_worker, alice, swapfile)
    swapoff_by_hand(str(swapfile))
    with open(swapfile, "r+b") as f:  # someone wipes the signature (the last 10 bytes)
        f.seek(4096 - 10)
        f.write(b"\0" * 10)
    before = digest(swapfile)

    found = check(backend, calm_worker)
    repair_uuid = found.result.get("repair_job")
    if repair_uuid is not None:
        repair = wait_for_job(Job.objects.get(uuid=repair_uuid), 60, worker=calm_worker)
        assert repair.state == Job.State.FAILED, repair.error
    job = wait_for_job(services.request_action(backend, "activate", Actor.schedule()), 60)
    assert job.state == Job.State.FAILED
    assert "Nothing was written" in job.error, job.error
    assert not kernel.is_active(str(swapfile))
    assert digest(swapfile) == before
