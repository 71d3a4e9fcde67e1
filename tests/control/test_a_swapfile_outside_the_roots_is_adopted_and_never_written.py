"""A swap file outside the swap roots (like the usual /swapfile), made and activated by
hand, is adopted by a real discover job on a real worker, then swapped off (with the RAM
check) and on again; scan, benchmark, resize and provision (plain or forced) are refused, by the
request and by the worker for a job queued straight into the database, and its bytes (and
its extended attributes) never change. A file outside the roots that is not swap is never
adopted."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import kernel
from swapadmin.core import services, signing
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor, InvalidRequest
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _marks(path: Path) -> dict[str, bytes]:
    """The file's extended attributes, names and values."""
    return {name: os.getxattr(path, name) for name in os.listxattr(path)}


@pytest.fixture
def elsewhere(scratch: Path) -> Path:
    """A root-only directory beside (not inside) the worker's swap root."""
    d = scratch / "elsewhere"
    d.mkdir(mode=0o700)
    return d


@pytest.fixture
def swapfile(elsewhere: Path) -> Iterator[Path]:
    """A swap file made and swapped on by hand; swapped off and removed whatever happens."""
    path = elsewhere / "swapfile"
    subprocess.run(["fallocate", "-l", "32M", str(path)], check=True)
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", "-L", "byhand", str(path)], check=True)
    subprocess.run(["swapon", "-p", "7", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["swapoff", str(path)], check=False, capture_output=True)
        path.unlink(missing_ok=True)


def discover(worker, actor: Actor, path: Path) -> Job:
    """A discover job for ``path`` only: other areas active on this machine (another test
    run's) are not this test's to adopt."""
    return services.request_host_job(worker.host, Job.Kind.DISCOVER, actor, {"paths": [str(path)]})


def run_past_the_request(worker, b: Backend, kind: str, params: dict) -> Job:
    """``kind`` on ``b``, signed as the control plane would sign it but put straight into the
    database, past the request's refusal; run by the worker to its end."""
    job = Job.objects.create(kind=kind, host=b.host, backend=b, backend_name=b.name, params=params)
    signing.sign_job(job.pk)
    assert services.dispatch(job.pk)
    return wait_for_job(job, 60, worker=worker)


def test_it_is_adopted_switched_off_and_on_and_never_written(worker, alice, swapfile):
    actor = Actor(alice, Job.Via.API)
    assert not str(swapfile).startswith(str(worker.swap_root))
    before = digest(swapfile)

    job = wait_for_job(discover(worker, actor, swapfile), 60)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert [a["path"] for a in job.result["adopted"]] == [str(swapfile)], job.result
    b = Backend.objects.get(host=worker.host, params__path=str(swapfile))
    assert (b.kind, b.adopted, b.label, b.active_priority) == ("file", True, "byhand", 7)
    assert b.state["adopted_root"] == str(swapfile.parent)

    job = wait_for_job(services.request_action(b, Job.Kind.DEACTIVATE, actor, {}), 60)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["already_inactive"] is False
    assert not kernel.is_active(str(swapfile))

    job = wait_for_job(services.request_action(b, Job.Kind.ACTIVATE, actor, {}), 60)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert kernel.is_active(str(swapfile))

    for kind, params in (
        (Job.Kind.SCAN, {}),
        (Job.Kind.BENCHMARK, {}),
        (Job.Kind.RESIZE, {"size_bytes": 64 * MiB}),
        (Job.Kind.PROVISION, {"force": True, "confirm": b.name}),
    ):
        with pytest.raises(InvalidRequest) as e:
            services.request_action(b, kind, actor, params)
        assert "was adopted, not" in str(e.value.errors)

    subprocess.run(["swapoff", str(swapfile)], check=True)
    assert digest(swapfile) == before


#: Each job that would write an adopted area, as the worker is sent it, and what it says
#: (the table's whole list is pinned in
#: test_a_queued_job_that_would_write_an_adopted_area_is_refused_before_its_plugin.py).
WRITE_JOBS = [
    (Job.Kind.SCAN, {"patterns": 1}, "a scan writes test patterns on every page"),
    (Job.Kind.BENCHMARK, {"seconds": 1}, "a benchmark writes every page"),
    (Job.Kind.RESIZE, {"size_bytes": 64 * MiB}, "a resize truncates or resets it"),
    # Forced, the file kind would take the sysadmin's file as it is and mark it ours;
    # unforced, take an inactive area as a store of swapadmin's. Neither is run.
    (Job.Kind.PROVISION, {"force": True}, "an adopted area's store is never taken"),
    (Job.Kind.PROVISION, {}, "a provision takes its store"),
]


@pytest.mark.parametrize(("kind", "params", "says"), WRITE_JOBS)
def test_a_write_job_queued_straight_into_the_database_is_refused_by_the_worker(
    worker, alice, swapfile, kind, params, says
):
    actor = Actor(alice, Job.Via.API)
    wait_for_job(discover(worker, actor, swapfile), 60)
    b = Backend.objects.get(host=worker.host, params__path=str(swapfile))
    subprocess.run(["swapoff", str(swapfile)], check=True)  # inactive: only adoption stops it
    before = digest(swapfile)
    marks = _marks(swapfile)

    job = run_past_the_request(worker, b, kind, params)
    assert job.state == Job.State.FAILED
    assert says in job.error, job.error
    assert digest(swapfile) == before
    assert _marks(swapfile) == marks  # not even swapadmin's mark
    assert os.path.getsize(swapfile) == 32 * MiB


def test_a_provision_of_an_adopted_file_that_is_gone_makes_nothing_at_its_path(
    worker, alice, swapfile
):
    actor = Actor(alice, Job.Via.API)
    wait_for_job(discover(worker, actor, swapfile), 60)
    b = Backend.objects.get(host=worker.host, params__path=str(swapfile))
    subprocess.run(["swapoff", str(swapfile)], check=True)
    swapfile.unlink()
    with pytest.raises(InvalidRequest, match="an adopted area's store is never taken"):
        services.request_action(b, Job.Kind.PROVISION, actor, {})
    job = run_past_the_request(worker, b, Job.Kind.PROVISION, {})
    assert job.state == Job.State.FAILED
    assert "an adopted area's store is never taken" in job.error, job.error
    assert not swapfile.exists()  # not made again at the sysadmin's path


def test_a_provision_of_an_adopted_active_file_is_refused_and_leaves_it_as_it_is(
    worker, alice, swapfile
):
    actor = Actor(alice, Job.Via.API)
    wait_for_job(discover(worker, actor, swapfile), 60)
    b = Backend.objects.get(host=worker.host, params__path=str(swapfile))
    assert kernel.is_active(str(swapfile))
    # Its header page only: the kernel writes the rest while it swaps.
    header, marks = swapfile.read_bytes()[:4096], _marks(swapfile)
    job = run_past_the_request(worker, b, Job.Kind.PROVISION, {})
    assert job.state == Job.State.FAILED
    assert "an adopted area's store is never taken" in job.error, job.error
    assert kernel.is_active(str(swapfile))
    assert swapfile.read_bytes()[:4096] == header and _marks(swapfile) == marks


def test_a_file_outside_the_roots_that_is_not_swap_is_refused(worker, alice, elsewhere):
    data = elsewhere / "database"
    data.write_bytes(os.urandom(16 * MiB))
    data.chmod(0o600)
    before = digest(data)
    with worker.fstab.open("a") as f:
        f.write(f"{data} none swap sw 0 0\n")

    job = wait_for_job(discover(worker, Actor(alice, Job.Via.API), data), 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["adopted"] == []
    [skipped] = job.result["skipped"]
    assert skipped["path"] == str(data)
    assert "is outside the swap roots and is not a swap area" in skipped["reason"]
    assert not Backend.objects.filter(host=worker.host, params__path=str(data)).exists()
    assert digest(data) == before
