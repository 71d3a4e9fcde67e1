"""Destroy deletes the swap files swapadmin made, and leaves on the host (saying so) one that
was already a swap file when a backend took it over."""

from __future__ import annotations

import subprocess

import pytest

from swapadmin.core.models import Job
from tests.control.test_run_job_directly import backend_on, job_for, run
from tests.fixtures.host import needs_root

pytestmark = [needs_root, pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


def test_it_deletes_a_file_it_made(host_row, swap_root):
    path = swap_root / "made"
    backend = backend_on(host_row, path)
    assert run(job_for(backend, Job.Kind.PROVISION)).state == Job.State.SUCCEEDED
    assert path.exists()
    job = run(job_for(backend, Job.Kind.DESTROY))
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["removed"] is True
    assert not path.exists()


def test_it_leaves_a_swap_file_it_took_over(host_row, swap_root):
    path = swap_root / "theirs"
    subprocess.run(["fallocate", "-l", "16M", str(path)], check=True)
    path.chmod(0o600)
    subprocess.run(["mkswap", "-L", "theirs", str(path)], check=True, capture_output=True)
    backend = backend_on(host_row, path)
    assert run(job_for(backend, Job.Kind.PROVISION)).state == Job.State.SUCCEEDED

    job = run(job_for(backend, Job.Kind.DESTROY))

    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["removed"] is False
    assert "left " in job.log and "swapadmin did not make it" in job.log
    assert path.exists()
