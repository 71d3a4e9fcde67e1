"""discover adopts swap areas made by hand (active, or listed in the host's fstab) as
backends of the right kind; destroying an adopted one never deletes its file."""

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


def swap_file_by_hand(path: Path, label: str) -> None:
    subprocess.run(["fallocate", "-l", "16M", str(path)], check=True)
    path.chmod(0o600)
    subprocess.run(["mkswap", "-L", label, str(path)], check=True, capture_output=True)


def test_it_adopts_an_area_activated_by_hand_and_one_in_the_fstab(worker, alice):
    actor = Actor(alice, Job.Via.API)
    active = worker.swap_root / "byhand"
    swap_file_by_hand(active, "byhand")
    subprocess.run(["swapon", "-p", "5", str(active)], check=True)
    listed = worker.swap_root / "listed"
    swap_file_by_hand(listed, "listed")
    with worker.fstab.open("a") as f:
        f.write(f"{listed} none swap sw,pri=2 0 0\n")

    job = services.request_host_job(worker.host, Job.Kind.DISCOVER, actor)
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.error
    # Any active area is adopted wherever it lives: count only this test's own (another
    # run on this machine may have areas of its own active right now).
    ours = [a["path"] for a in job.result["adopted"] if a["path"].startswith(str(worker.swap_root))]
    assert set(ours) == {str(active), str(listed)}

    b = Backend.objects.get(host=worker.host, params__path=str(active))
    assert (b.kind, b.adopted, b.label) == ("file", True, "byhand")
    assert (b.observed_state, b.desired_state, b.active_priority) == ("active", "active", 5)
    assert b.size_bytes == 16 << 20
    other = Backend.objects.get(host=worker.host, params__path=str(listed))
    assert (other.observed_state, other.desired_state) == ("ready", "inactive")

    # Nothing new the second time.
    again = wait_for_job(services.request_host_job(worker.host, Job.Kind.DISCOVER, actor), 60)
    assert not [a for a in again.result["adopted"] if a["path"].startswith(str(worker.swap_root))]

    job = wait_for_job(services.request_action(b, Job.Kind.DESTROY, actor, {}), 60)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert not kernel.is_active(str(active))
    assert active.exists()  # adopted: released from management, never deleted
    assert not Backend.objects.filter(pk=b.pk).exists()


def test_it_adopts_only_the_paths_it_is_given(worker, alice):
    actor = Actor(alice, Job.Via.PAGE)
    wanted, other = worker.swap_root / "wanted", worker.swap_root / "other"
    for area in (wanted, other):
        swap_file_by_hand(area, area.name)
    try:
        for area in (wanted, other):
            subprocess.run(["swapon", str(area)], check=True)
        missing = str(worker.swap_root / "missing")
        job = services.request_host_job(
            worker.host, Job.Kind.DISCOVER, actor, {"paths": [str(wanted), missing]}
        )
        job = wait_for_job(job, 60, worker=worker)
        assert job.state == Job.State.SUCCEEDED, job.error
        assert [a["path"] for a in job.result["adopted"]] == [str(wanted)]
        assert job.result["skipped"] == [
            {"path": missing, "reason": "not active and not in the fstab"}
        ]
        assert Backend.objects.filter(host=worker.host, params__path=str(wanted)).exists()
        assert not Backend.objects.filter(host=worker.host, params__path=str(other)).exists()
    finally:
        for area in (wanted, other):
            subprocess.run(["swapoff", str(area)], check=False, capture_output=True)
