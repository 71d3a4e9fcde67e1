"""A destroy whose release let go of part of the store before it failed is not put back in
the queue. The user-space kind's release forgets a loop device that is gone, then finds
its daemon still holding the store behind a mount detached lazily (a retryable
``BusyError``). The runner would refuse that job's next try, as the row no longer names the
device the job was signed for (252/1): the destroy fails at once, says that it changed
its record of the store, and the next destroy, once the daemon is gone, finishes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import attached_loops, mounts_under, needs_root
from tests.fixtures.host import run as sh
from tests.userspace.served import daemons_under, ended, kill

pytestmark = [pytest.mark.django_db, needs_root]


def test_a_release_that_forgot_its_device_and_then_failed_is_not_tried_again(
    host_row, swap_root: Path, uswap_dir: Path, settings, tmp_path: Path
) -> None:
    # This process plays the worker of host_row ("testhost"), as tests/control's do.
    settings.SWAPADMIN_HOST = "testhost"
    settings.DATA_DIR = tmp_path
    settings.SWAPADMIN_FSTAB = tmp_path / "fstab"
    path = swap_root / "uswap-half"
    backend = Backend.objects.create(
        host=host_row, kind="userspace", name="uh", params={"path": str(path)},
        size_bytes=8 * MiB,
    )  # fmt: skip
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.log
    backend.refresh_from_db()
    device, mp = backend.state["device"], backend.state["mountpoint"]
    [daemon] = daemons_under(uswap_dir)

    # The device detached by hand, and the mount detached lazily while a file on it is
    # held open: the daemon lives on, holding the store, with nothing mounted at its point.
    sh("losetup", "-d", device)
    held = os.open(f"{mp}/area", os.O_RDONLY | os.O_CLOEXEC)
    try:
        sh("umount", "-l", mp)
        assert mounts_under(mp) == [] and daemon.alive()
        job = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))

        assert job.state == Job.State.FAILED, job.log
        assert "still holds" in job.error, job.error
        assert "this destroy had changed its record of the backing store" in job.error, job.error
        assert "The backend is kept: destroy it again to finish." in job.error, job.error
        assert "device" not in Backend.objects.get(pk=backend.pk).state
    finally:
        os.close(held)
    # The mount gone with its last user, the daemon ends (or is ended, as a person would).
    if not ended(daemon, 10):
        kill(daemon)
        assert ended(daemon, 10)

    gone = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))
    assert gone.state == Job.State.SUCCEEDED, gone.log
    assert not Backend.objects.filter(pk=backend.pk).exists()
    assert not path.exists() and device not in attached_loops()
