"""The loop kind's own device (its name field), swapped on, over a file that is not the one
at the path now (unlinked, or replaced by another): the area is this backend's, yet no job
can prove it to swap it off. Every job says so with the one way out, a swapoff by hand, and
changes nothing; once it is off, a destroy detaches the device and forgets the row.

Before (248/6), the words led in a circle: a destroy logged "not this backend's store" and
then failed on the detach with "deactivate it"; a deactivate said "provision the backend
again", and a provision said "deactivate it". Its file's mark made another's is said the
same way (249/3), and the area is still seen as this backend's and on, never "foreign" with
its own device offered for adoption (249/1)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from backends import kernel
from backends.errors import UnprovenAreaError
from backends.plugins.file import MADE, MARK_NAME, MARK_PREFIX
from backends.policy import Policy
from swapadmin.core.models import Backend, Job
from swapadmin.core.observe import observe_backend
from swapadmin.core.plugins import build_plugin
from tests.control.test_an_off_loop_area_is_not_resized_while_its_device_is_claimed import (
    LoopArea,
    loop_area,
)
from tests.control.test_run_job_directly import job_for, run
from tests.fixtures.host import attached_loops, mounted_image, needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

__all__ = ["loop_area"]  # the fixture this module uses


def _unlinked(path: Path) -> None:
    path.unlink()


def _replaced(path: Path) -> None:
    path.unlink()
    path.write_bytes(bytes(1 << 20))  # someone's file at the path now, not this backend's
    path.chmod(0o600)


def _marked_anothers(path: Path) -> None:
    """The very file the device serves, its mark made another backend's (a copy's)."""
    other = str(uuid.uuid4()).encode()
    os.setxattr(path, MARK_NAME, b":".join([MARK_PREFIX, MADE.encode(), other]))


@pytest.mark.parametrize(
    "change", [_unlinked, _replaced, _marked_anothers], ids=["unlinked", "replaced", "marked"]
)
def test_every_job_says_swap_it_off_by_hand(
    loop_area: LoopArea, change: Callable[[Path], None]
) -> None:
    backend, device, path = loop_area
    sh("swapon", device)
    try:
        change(path)
        assert observe_backend(Backend.objects.get(pk=backend.pk)) == Backend.Observed.ACTIVE
        # A provision over a file at the path is refused first for the file (not its own).
        provision = [Job.Kind.PROVISION] if change is _unlinked else []
        for kind in (Job.Kind.DESTROY, Job.Kind.DEACTIVATE, *provision):
            job = run(job_for(Backend.objects.get(pk=backend.pk), kind))

            assert job.state == Job.State.FAILED, (kind, job.log)
            assert f"{device} is the loop device this backend attached, swapped on" in job.error
            assert f"Swap it off by hand (swapoff {device})" in job.error, job.error
            assert "not this backend's store" not in job.log, job.log  # never "left as it is"
            assert "deactivate it" not in job.error, job.error
            # No step of a swapoff logged before the refusal, as if it had been tried.
            assert not re.search(rf"^\S+ swapoff {device}", job.log, re.M), job.log
            if change is _marked_anothers:  # the file's own failure, not a stand-in (252/3)
                assert "carries the mark of a file made by another" in job.error, job.error
            assert kernel.is_active(device)
            assert Backend.objects.get(pk=backend.pk).state.get("device") == device
    finally:
        sh("swapoff", device, check=False)

    job = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))

    assert job.state == Job.State.SUCCEEDED, job.log
    assert device not in attached_loops(), job.log
    assert not Backend.objects.filter(pk=backend.pk).exists()
    assert path.exists() is (change is not _unlinked)  # someone's file is left on the host


def test_a_filesystem_not_mounted_is_said_so_not_swap_it_off_by_hand(
    host_row, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its file on a filesystem the fstab mounts, unmounted (lazily: the device holds the
    file) while the area is on: mounting it again proves the area, so the jobs say what is
    not mounted, never "unlinked or replaced" and a swapoff by hand (250/2)."""
    with mounted_image(scratch, "ext4", size_mb=48) as mnt:
        table = scratch / "fstab"
        table.write_text(f"LABEL=swapdata {mnt} ext4 defaults,nofail 0 2\n")
        monkeypatch.setenv("SWAPADMIN_SWAP_ROOTS", str(mnt / "swap"))
        monkeypatch.setenv("SWAPADMIN_MOUNT_TABLE", str(table))
        backend = Backend.objects.create(
            host=host_row, kind="loop", name="a", params={"path": str(mnt / "swap" / "a")},
            size_bytes=16 << 20,
        )  # fmt: skip
        for kind in (Job.Kind.PROVISION, Job.Kind.ACTIVATE):
            job = run(job_for(Backend.objects.get(pk=backend.pk), kind))
            assert job.state == Job.State.SUCCEEDED, job.log
        device = Backend.objects.get(pk=backend.pk).state["device"]
        try:
            sh("umount", "-l", str(mnt))
            for kind in (Job.Kind.DEACTIVATE, Job.Kind.ACTIVATE):
                job = run(job_for(Backend.objects.get(pk=backend.pk), kind))

                assert job.state == Job.State.FAILED, job.log
                assert "nothing is mounted there" in job.error, job.error
                assert "Swap it off by hand" not in job.error, job.error
                assert kernel.is_active(device)
        finally:
            sh("swapoff", device, check=False)
            sh("losetup", "-d", device, check=False)
            Backend.objects.filter(pk=backend.pk).delete()


def test_a_file_reached_through_a_link_now_gives_its_own_reason(host_row, swap_root: Path) -> None:
    """Its directory moved and a symbolic link left in its place: the path still leads to
    the very file the device serves, but the walk refuses the link, and the words give
    that reason, not a stand-in (252/3)."""
    (swap_root / "d").mkdir(mode=0o700)
    path = swap_root / "d" / "a"
    backend = Backend.objects.create(
        host=host_row, kind="loop", name="a", params={"path": str(path)}, size_bytes=16 << 20
    )
    for kind in (Job.Kind.PROVISION, Job.Kind.ACTIVATE):
        job = run(job_for(Backend.objects.get(pk=backend.pk), kind))
        assert job.state == Job.State.SUCCEEDED, job.log
    device = Backend.objects.get(pk=backend.pk).state["device"]
    try:
        (swap_root / "d").rename(swap_root / "moved")
        (swap_root / "d").symlink_to(swap_root / "moved")
        job = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DEACTIVATE))

        assert job.state == Job.State.FAILED, job.log
        assert f"Swap it off by hand (swapoff {device})" in job.error, job.error
        assert "no longer names this backend's file" in job.error, job.error
        assert kernel.is_active(device)
    finally:
        sh("swapoff", device, check=False)
        sh("losetup", "-d", device, check=False)
        Backend.objects.filter(pk=backend.pk).delete()


def test_a_release_that_finds_the_area_on_gives_the_files_own_reason(
    loop_area: LoopArea, policy: Policy
) -> None:
    """The kind's release itself, as a destroy's would run were the area swapped on between
    its proof and its release: the device it would let go of is on, over the very file now
    marked another's, and the refusal gives that file's reason, not "(its proof failed)"
    (252/3)."""
    backend, device, path = loop_area
    sh("swapon", device)
    try:
        _marked_anothers(path)
        plugin = build_plugin(Backend.objects.get(pk=backend.pk), policy)
        with pytest.raises(UnprovenAreaError) as refused:
            plugin.swapfile(False)
        assert "carries the mark of a file made by another" in refused.value.message
        assert kernel.is_active(device) and device in attached_loops()
    finally:
        sh("swapoff", device, check=False)
