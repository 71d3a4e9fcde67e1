"""A backend whose swap root is on a filesystem the worker's fstab mounts, while nothing is
mounted there, through real jobs and the worker's look (review 168/8): a new backend's
provision fails and makes nothing beneath the mount point; a provisioned backend's look
does not say its file is gone, nor does the next sample or the health check, and its
destroy fails, keeping the backend, where before it found no file and deleted the row,
leaving the file on the disk. Mounted again, the
destroy removes the file. The library's own cases are in
``tests/backends/test_no_file_is_made_or_looked_for_beneath_an_unmounted_filesystem.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swapadmin.core.models import Backend, Job
from swapadmin.core.observe import read_observation, write_observation
from swapadmin.core.sampler import Reading, take_sample
from swapadmin.health.probes import _check_node
from tests.control.test_run_job_directly import backend_on, job_for, run
from tests.fixtures.host import mounted_image, needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

REFUSED = "is where {table} mounts LABEL=swapdata, but nothing is mounted there"


def test_a_backend_on_an_unmounted_filesystem_is_neither_made_nor_forgotten(
    host_row, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mounted_image(scratch, "ext4", size_mb=48) as mnt:
        table = scratch / "fstab"
        table.write_text(f"LABEL=swapdata {mnt} ext4 defaults,nofail 0 2\n")
        monkeypatch.setenv("SWAPADMIN_SWAP_ROOTS", str(mnt / "swap"))
        monkeypatch.setenv("SWAPADMIN_MOUNT_TABLE", str(table))
        refused = REFUSED.format(table=table)

        made = backend_on(host_row, mnt / "swap" / "s")
        job = run(job_for(made, Job.Kind.PROVISION))
        assert job.state == Job.State.SUCCEEDED, job.error
        sh("umount", str(mnt))

        new = backend_on(host_row, mnt / "swap" / "t")
        job = run(job_for(new, Job.Kind.PROVISION))
        assert job.state == Job.State.FAILED and refused in job.error, job.error
        assert os.listdir(mnt) == []

        made.refresh_from_db()
        look = read_observation(made)
        assert look["observed_state"] == Backend.Observed.ERROR, look  # before: ABSENT
        assert refused in look["observed_error"], look
        assert refused in look["info"]["error"], look  # the page says it
        write_observation(made, look)
        # Nor does the next sample say "absent" over it, by name (review 178/1).
        take_sample(host_row, Reading())
        made.refresh_from_db()
        assert made.observed_state == Backend.Observed.ERROR
        assert refused in made.observed_error
        # Nor does it keep ACTIVE for an area the reboot took (not in /proc/swaps), nor
        # say READY for a stray file beneath the mount point (review 181/3).
        Backend.objects.filter(pk=made.pk).update(observed_state=Backend.Observed.ACTIVE)
        take_sample(host_row, Reading())
        made.refresh_from_db()
        assert (made.observed_state, made.used_bytes) == (Backend.Observed.ERROR, 0)
        (mnt / "swap").mkdir(mode=0o700)
        (mnt / "swap" / "s").write_bytes(b"stray")
        Backend.objects.filter(pk=made.pk).update(observed_state=Backend.Observed.ABSENT)
        take_sample(host_row, Reading())
        made.refresh_from_db()
        assert made.observed_state == Backend.Observed.ERROR
        assert refused in made.observed_error
        (mnt / "swap" / "s").unlink()
        (mnt / "swap").rmdir()
        # A loop backend's path is its device, gone after a reboot whatever its file's
        # disk does: its file is asked about too (review 181/4).
        loop = Backend.objects.create(
            host=host_row, kind="loop", name="l", params={"path": str(mnt / "swap" / "l")},
            size_bytes=16 << 20, observed_state=Backend.Observed.READY,
            info={"swap_path": "/dev/loop-not-there"},
        )  # fmt: skip
        take_sample(host_row, Reading())
        loop.refresh_from_db()
        assert loop.observed_state == Backend.Observed.ERROR, loop.observed_error
        assert refused in loop.observed_error
        loop.delete()
        # And the health check says why it cannot find the file, not that it is gone.
        finding = _check_node(str(mnt / "swap" / "s"), "file", exact_mode=True)
        assert finding.status == "fail" and refused in finding.message, finding

        job = run(job_for(made, Job.Kind.DESTROY))
        assert job.state == Job.State.FAILED and refused in job.error, job.error
        assert Backend.objects.filter(pk=made.pk).exists()

        sh("mount", "-o", "loop", str(scratch / "ext4.img"), str(mnt))
        job = run(job_for(Backend.objects.get(pk=made.pk), Job.Kind.DESTROY))
        assert job.state == Job.State.SUCCEEDED, job.error
        assert not Backend.objects.filter(pk=made.pk).exists()
        assert not (mnt / "swap" / "s").exists()
