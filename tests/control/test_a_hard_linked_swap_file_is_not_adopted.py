"""A swap file with two names (a hard link) is refused at adoption, with the reason: its
activation refuses it (another name may be another backend's or a user's), so adopting it
would make a backend that, once swapped off, could never be swapped on again and whose
auto-repair fails for good. Adopt and activate agree: once the other name is removed, the
same file is adopted, and activated."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from backends import kernel
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def discover(worker, actor: Actor, path: Path) -> Job:
    job = services.request_host_job(worker.host, Job.Kind.DISCOVER, actor, {"paths": [str(path)]})
    return wait_for_job(job, 60, worker=worker)


def test_a_file_with_two_names_is_refused_until_it_has_one(worker, alice):
    actor = Actor(alice, Job.Via.API)
    area = worker.swap_root / "linked"
    subprocess.run(["fallocate", "-l", "16M", str(area)], check=True)
    area.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(area)], check=True)
    other = worker.swap_root / "other-name"
    other.hardlink_to(area)
    with worker.fstab.open("a") as f:
        f.write(f"{area} none swap sw 0 0\n")
    fstab_before = worker.fstab.read_bytes()
    try:
        job = discover(worker, actor, area)
        assert job.state == Job.State.SUCCEEDED, job.error
        assert job.result["adopted"] == [], job.result
        [skipped] = job.result["skipped"]
        assert skipped["path"] == str(area)
        assert "has 2 names (hard links)" in skipped["reason"], skipped
        assert not Backend.objects.filter(host=worker.host, params__path=str(area)).exists()
        assert worker.fstab.read_bytes() == fstab_before

        other.unlink()
        job = discover(worker, actor, area)
        assert job.state == Job.State.SUCCEEDED, job.error
        assert [a["path"] for a in job.result["adopted"]] == [str(area)], job.result
        b = Backend.objects.get(host=worker.host, params__path=str(area))
        job = wait_for_job(services.request_action(b, Job.Kind.ACTIVATE, actor, {}), 60)
        assert job.state == Job.State.SUCCEEDED, job.error
        assert kernel.is_active(str(area))
    finally:
        subprocess.run(["swapoff", str(area)], check=False, capture_output=True)
