"""A provisioned backend whose file is replaced at its path (someone else's swap file, even
with the same swap UUID) is not touched again: its jobs are refused before any write or
swapon, the worker reads it as ``foreign``, the sampler lists that area as unmanaged when
someone activates it, and destroy forgets the backend and leaves the file as it is."""

from __future__ import annotations

import os
import subprocess

import pytest

from backends import kernel
from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.sampler import Reading, take_sample
from tests.control.test_run_job_directly import MiB, backend_on, job_for, run
from tests.fixtures.host import needs_root

pytestmark = [needs_root, pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


def replace_by_hand(path, swap_uuid) -> bytes:
    os.unlink(path)
    subprocess.run(["fallocate", "-l", str(16 * MiB), str(path)], check=True)
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", "-U", str(swap_uuid), str(path)], check=True)
    return path.read_bytes()


def test_its_jobs_are_refused_and_destroy_leaves_the_file(host_row, swap_root):
    path = swap_root / "s"
    backend = backend_on(host_row, path)
    assert run(job_for(backend, Job.Kind.PROVISION)).state == Job.State.SUCCEEDED
    backend.refresh_from_db()
    content = replace_by_hand(path, backend.swap_uuid)
    refusal = (
        f"the file now at {path} is not this backend's: it carries no swapadmin mark, not "
        "this backend's mark (it was replaced, or belongs to someone else). Nothing was "
        "written."
    )

    for kind in (Job.Kind.ACTIVATE, Job.Kind.SCAN, Job.Kind.RESIZE):
        params = {"size_bytes": 24 * MiB} if kind == Job.Kind.RESIZE else {}
        job = run(job_for(backend, kind, **params))
        assert job.state == Job.State.FAILED, kind
        assert job.error == refusal, (kind, job.error)
        assert not kernel.is_active(str(path))
        assert path.read_bytes() == content
        backend.refresh_from_db()
        assert backend.observed_state == Backend.Observed.FOREIGN
        assert backend.observed_error == refusal

    # Someone swaps on it by hand: the area is theirs, and the sampler says so.
    subprocess.run(["swapon", str(path)], check=True)
    try:
        take_sample(host_row, Reading())
        backend.refresh_from_db()
        assert backend.observed_state == Backend.Observed.FOREIGN
        observed = Host.objects.get(pk=host_row.pk).observed
        assert str(path) in [a["path"] for a in observed["unmanaged"]]

        job = run(job_for(backend, Job.Kind.DESTROY))
        assert job.state == Job.State.SUCCEEDED, job.error
        assert job.result["removed"] is False and "deactivated" not in job.result
        assert f"not this backend's store: {refusal}" in job.log
        assert f"{path} is active but not this backend's: left as it is" in job.log
        assert kernel.is_active(str(path))
        assert not Backend.objects.filter(pk=backend.pk).exists()
    finally:
        subprocess.run(["swapoff", str(path)], check=False)
    assert path.read_bytes() == content
