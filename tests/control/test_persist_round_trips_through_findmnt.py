"""persist writes the area's fstab line and nothing else; findmnt --verify accepts the file,
and removing the line gives the original file back byte for byte."""

from __future__ import annotations

import subprocess

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ORIGINAL = "# the sysadmin's own words\nproc  /proc  proc  defaults  0 0\n\n# end\n"


def verify(fstab) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["findmnt", "--verify", "--tab-file", str(fstab)], capture_output=True, text=True
    )


def test_an_fstab_line_round_trips(worker, alice):
    actor = Actor(alice, Job.Via.API)
    worker.fstab.write_text(ORIGINAL)
    path = worker.swap_root / "kept"
    job = services.create_backend(
        host=worker.host, kind="file", name="kept", size_bytes=16 << 20, actor=actor,
        params={"path": str(path)}, priority=10, discard="pages", label="kept",
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name="kept")

    job = wait_for_job(services.request_action(backend, Job.Kind.PERSIST, actor, {}), 60)
    assert job.state == Job.State.SUCCEEDED, job.error
    text = worker.fstab.read_text()
    assert text.startswith(ORIGINAL)
    line = [ln for ln in text.splitlines() if ln.startswith(str(path))]
    assert len(line) == 1
    fields = line[0].split()
    assert fields[2] == "swap" and "pri=10" in fields[3] and "discard=pages" in fields[3]
    result = verify(worker.fstab)
    assert result.returncode == 0, result.stdout + result.stderr
    backend.refresh_from_db()
    assert backend.persist

    # Persisting again changes nothing.
    job = wait_for_job(services.request_action(backend, Job.Kind.PERSIST, actor, {}), 60)
    assert job.result["changed"] is False
    assert worker.fstab.read_text() == text

    job = services.request_action(backend, Job.Kind.PERSIST, actor, {"persist": False})
    assert wait_for_job(job, 60).state == Job.State.SUCCEEDED
    assert worker.fstab.read_text() == ORIGINAL
    assert verify(worker.fstab).returncode == 0


def test_a_backend_created_to_persist_gets_its_line_and_destroy_removes_it(worker, alice):
    actor = Actor(alice, Job.Via.API)
    worker.fstab.write_text(ORIGINAL)
    job = services.create_backend(
        host=worker.host, kind="file", name="gone", size_bytes=16 << 20, actor=actor,
        params={"path": str(worker.swap_root / "gone")}, persist=True,
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name="gone")
    assert str(worker.swap_root / "gone") in worker.fstab.read_text()
    job = wait_for_job(services.request_action(backend, Job.Kind.DESTROY, actor, {}), 60)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["fstab_removed"] is True
    assert worker.fstab.read_text() == ORIGINAL
