"""Destroy deletes the swap files its backend made, and leaves on the host (saying so) one
that was already a swap file when the backend took it over (without the backend's mark, a
plain file again), one another backend made, and whatever is at the path of a backend whose
provision never completed."""

from __future__ import annotations

import os
import subprocess

import pytest

from backends.plugins.file import MARK_NAME
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import backend_on, job_for, run
from tests.fixtures.host import needs_root

pytestmark = [needs_root, pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


def mark(path) -> bytes | None:
    try:
        return os.getxattr(path, MARK_NAME)
    except OSError:
        return None


def swap_file_by_hand(path, label: str) -> bytes:
    subprocess.run(["fallocate", "-l", "16M", str(path)], check=True)
    path.chmod(0o600)
    subprocess.run(["mkswap", "-L", label, str(path)], check=True, capture_output=True)
    return path.read_bytes()


def test_it_deletes_a_file_it_made(host_row, swap_root):
    path = swap_root / "made"
    backend = backend_on(host_row, path)
    assert run(job_for(backend, Job.Kind.PROVISION)).state == Job.State.SUCCEEDED
    assert path.exists()
    assert mark(path) == f"swapadmin:made:{backend.uuid}".encode()
    job = run(job_for(backend, Job.Kind.DESTROY))
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["removed"] is True
    assert not path.exists()


def test_it_leaves_a_swap_file_it_took_over(host_row, swap_root):
    path = swap_root / "theirs"
    swap_file_by_hand(path, "theirs")
    backend = backend_on(host_row, path)
    # Someone's swap file: taken only with force (the request side needs the typed name).
    refused = run(job_for(backend, Job.Kind.PROVISION))
    assert refused.state == Job.State.FAILED and "confirm with force" in refused.error
    assert mark(path) is None
    taken = run(job_for(backend, Job.Kind.PROVISION, force=True))
    assert taken.state == Job.State.SUCCEEDED, taken.error
    assert mark(path) == f"swapadmin:given:{backend.uuid}".encode()

    job = run(job_for(backend, Job.Kind.DESTROY))

    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["removed"] is False
    assert f"left {path} on the host: this backend did not make it" in job.log
    assert path.exists()
    assert mark(path) is None  # given back as a plain file: no backend's mark left on it
    assert not Backend.objects.filter(pk=backend.pk).exists()


def test_it_leaves_a_file_another_backend_made(host_row, swap_root):
    path = swap_root / "mine"
    mine = backend_on(host_row, path)
    assert run(job_for(mine, Job.Kind.PROVISION)).state == Job.State.SUCCEEDED
    content = path.read_bytes()
    # Another backend, provisioned on a file of its own, whose row is then edited in the
    # database to name the first one's file (the request side refuses a path in use).
    other = backend_on(host_row, swap_root / "other")
    assert run(job_for(other, Job.Kind.PROVISION)).state == Job.State.SUCCEEDED
    Backend.objects.filter(pk=other.pk).update(params={"path": str(path)})

    job = run(job_for(other, Job.Kind.DESTROY))

    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["removed"] is False
    # Off, whose it is is the removal's question (the proof before a swapoff is asked only
    # of an area that is on: 244/8), and its answer is the file left.
    assert f"left {path} on the host: this backend did not make it" in job.log
    assert path.read_bytes() == content
    assert mark(path) == f"swapadmin:made:{mine.uuid}".encode()
    assert not Backend.objects.filter(pk=other.pk).exists()
    assert Backend.objects.filter(pk=mine.pk).exists()


def test_a_backend_never_provisioned_loses_only_its_row(host_row, swap_root):
    path = swap_root / "theirs"
    content = swap_file_by_hand(path, "theirs")
    backend = backend_on(host_row, path)  # its provision never ran

    job = run(job_for(backend, Job.Kind.DESTROY))

    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["removed"] is False
    assert f"left {path} on the host: this backend did not make it" in job.log
    assert path.read_bytes() == content
    assert mark(path) is None
    assert not Backend.objects.filter(pk=backend.pk).exists()
