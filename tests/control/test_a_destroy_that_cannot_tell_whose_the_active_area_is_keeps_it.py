"""A destroy that cannot tell whether the active area at its path is its own keeps the
backend and leaves the area on, saying why, and changes nothing; only a store proven not
this backend's (NotOursError) is left on with the row forgotten. Once mended, the same
destroy goes through.

Before (241/1), any failure of the proof read as "not this backend's". An adopted area has
no file of its own to remove, so nothing after stopped its destroy: with its swap root made
writable by others (a walk the file kind refuses, which says nothing of which file the name
leads to), the row was forgotten with the area on. And a second name (a hard link) for a
file the mark proves this backend's was "not ours" too (244/1): the loop kind's destroy then
dropped its device's record before its file's removal refused, and the backend was left
with its area on and no device to turn off."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import kernel
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, adopt, backend_on, job_for, run
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


def _refused_and_kept(job: Job, backend: Backend, on: str, *words: str) -> None:
    assert job.state == Job.State.FAILED, job.log
    assert "whether it is this backend's store cannot be told" in job.error, job.error
    for said in words:
        assert said in job.error, job.error
    assert kernel.is_active(on)
    kept = Backend.objects.get(pk=backend.pk)
    assert kept.state == backend.state  # nothing forgotten: its device, its record


def _destroyed(backend: Backend, on: str, *, deactivated: bool = True) -> None:
    job = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))
    assert job.state == Job.State.SUCCEEDED, job.log
    assert job.result.get("deactivated", False) is deactivated
    assert not kernel.is_active(on)
    assert not Backend.objects.filter(pk=backend.pk).exists()


@pytest.fixture
def mode_777(swap_root: Path) -> Iterator[None]:
    mode = swap_root.stat().st_mode & 0o777
    try:
        yield
    finally:
        os.chmod(swap_root, mode)


def test_a_swap_root_to_mend_keeps_an_adopted_area(
    host_row, swap_root: Path, mode_777: None
) -> None:
    path = swap_root / "theirs"
    path.write_bytes(os.urandom(16 * MiB))
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(path)], check=True)  # someone else's swap area
    subprocess.run(["swapon", str(path)], check=True)
    try:
        backend = adopt(host_row, path)
        os.chmod(swap_root, 0o777)

        job = run(job_for(backend, Job.Kind.DESTROY))

        _refused_and_kept(job, backend, str(path), "(the swap root) has mode 777")
        os.chmod(swap_root, 0o755)
        _destroyed(backend, str(path))
        assert path.exists()  # the sysadmin's file, left on the host
    finally:
        subprocess.run(["swapoff", str(path)], check=False, capture_output=True)


def test_a_swap_root_to_mend_keeps_a_made_area(host_row, swap_root: Path, mode_777: None) -> None:
    path = swap_root / "kept"
    backend = backend_on(host_row, path)
    try:
        assert run(job_for(backend, Job.Kind.PROVISION, activate=True)).state == "succeeded"
        backend.refresh_from_db()
        before = path.read_bytes()[:4096]
        os.chmod(swap_root, 0o777)

        job = run(job_for(backend, Job.Kind.DESTROY))

        _refused_and_kept(job, backend, str(path), "(the swap root) has mode 777")
        assert path.read_bytes()[:4096] == before
        os.chmod(swap_root, 0o755)
        _destroyed(backend, str(path))
        assert not path.exists()
    finally:
        subprocess.run(["swapoff", str(path)], check=False, capture_output=True)


@pytest.mark.parametrize("kind", ["file", "loop"])
def test_a_second_name_keeps_the_area_and_its_device(
    host_row, swap_root: Path, scratch: Path, kind: str
) -> None:
    path = swap_root / "linked"
    backend = Backend.objects.create(
        host=host_row, kind=kind, name="linked", params={"path": str(path)}, size_bytes=16 * MiB
    )
    link = scratch / "another-name"  # outside the swap root, on the same filesystem
    on = str(path)
    try:
        made = run(job_for(backend, Job.Kind.PROVISION, activate=True))
        assert made.state == Job.State.SUCCEEDED, made.error
        backend.refresh_from_db()
        on = backend.state.get("device", str(path))
        os.link(path, link)

        job = run(job_for(backend, Job.Kind.DESTROY))

        _refused_and_kept(job, backend, on, "has 2 names (hard links)")
        if kind == "file":
            # The kernel lets no name of an active swap file go (EPERM): the way out the
            # words give, a swapoff by hand, comes first.
            subprocess.run(["swapoff", on], check=True)
        link.unlink()
        _destroyed(backend, on, deactivated=kind == "loop")
        assert not path.exists()
    finally:
        link.unlink(missing_ok=True)
        subprocess.run(["swapoff", on], check=False, capture_output=True)
        if on != str(path):
            subprocess.run(["losetup", "-d", on], check=False, capture_output=True)
