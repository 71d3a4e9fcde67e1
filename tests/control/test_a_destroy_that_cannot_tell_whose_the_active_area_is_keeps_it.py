"""A destroy that cannot tell whether the active area at its path is its own keeps the
backend and leaves the area on, saying why; only a store proven not this backend's is left
on with the row forgotten. Before (241/1), any failure of the proof read as "not this
backend's": with the swap root made writable by others (a walk the file kind refuses, which
says nothing of which file the name leads to) the destroy forgot the row and left the area
on, with nothing left to turn it off. Mended, the same destroy goes through."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from backends import kernel
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import backend_on, job_for, run
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


def test_the_backend_is_kept_and_the_area_left_on(host_row, swap_root: Path) -> None:
    path = swap_root / "kept"
    backend = backend_on(host_row, path)
    try:
        assert run(job_for(backend, Job.Kind.PROVISION)).state == Job.State.SUCCEEDED
        assert run(job_for(backend, Job.Kind.ACTIVATE)).state == Job.State.SUCCEEDED
        before = path.read_bytes()[:4096]
        mode = swap_root.stat().st_mode & 0o777
        os.chmod(swap_root, 0o777)
        try:
            job = run(job_for(backend, Job.Kind.DESTROY))
        finally:
            os.chmod(swap_root, mode)

        assert job.state == Job.State.FAILED, job.log
        assert "whether it is this backend's store cannot be told" in job.error, job.error
        assert "(the swap root) has mode 777" in job.error, job.error
        assert kernel.is_active(str(path))
        assert Backend.objects.filter(pk=backend.pk).exists()
        assert path.read_bytes()[:4096] == before

        again = run(job_for(backend, Job.Kind.DESTROY))
        assert again.state == Job.State.SUCCEEDED, again.log
        assert again.result["deactivated"] is True
        assert not kernel.is_active(str(path))
        assert not path.exists()
        assert not Backend.objects.filter(pk=backend.pk).exists()
    finally:
        subprocess.run(["swapoff", str(path)], check=False, capture_output=True)
