"""A loop device the record names but that this backend did not attach (its name field
holds no backend id): a person's losetup, or a device a swapadmin from before 2026-12-07
attached, which looks the same. Over the backend's own file and swapped on, it is refused,
in words that say both and the way out, and a destroy keeps the record of it: before
(245/1), the destroy dropped and saved the record before its file's removal refused, and
the row then read "off" with the area on. Over another's file, with the backend's own file
gone, it is another's area: the destroy forgets the row and leaves it on (245/5: before, it
was refused until the person swapped their own area off). And a device of the backend's own
that another process holds open is not detached under it (245/3)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import kernel, store
from backends.plugins.loop import LOOP_SET_STATUS64
from swapadmin.core.models import Backend, Job
from swapadmin.core.observe import observe_backend
from tests.control.test_an_off_loop_area_is_not_resized_while_its_device_is_claimed import (
    LoopArea,
    loop_area,
)
from tests.control.test_run_job_directly import job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import attached_loops, needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

__all__ = ["loop_area"]  # the fixture this module uses


def _names(backend: Backend, dev: str) -> Backend:
    Backend.objects.filter(pk=backend.pk).update(state={**backend.state, "device": dev})
    return Backend.objects.get(pk=backend.pk)


@contextlib.contextmanager
def _theirs_on(loop_area: LoopArea, backing: Path) -> Iterator[tuple[Backend, str]]:
    """The backend's own device detached by hand, ``backing`` attached by hand (so with no
    name field of the backend's) to the device the record is made to name, and swapped on;
    swapped off and detached after."""
    backend, device, _ = loop_area
    sh("losetup", "-d", device)
    with attached(backing) as theirs:
        sh("swapon", theirs)
        try:
            yield _names(backend, theirs), theirs
        finally:
            sh("swapoff", theirs, check=False)


def _refused_and_kept(job: Job, backend: Backend, theirs: str) -> None:
    assert job.state == Job.State.FAILED, job.log
    assert "did not attach it" in job.error, job.error
    assert kernel.find_area(theirs) is not None
    assert Backend.objects.get(pk=backend.pk).state.get("device") == theirs  # kept


def _destroy_refused(backend: Backend, theirs: str) -> None:
    """Refused once, in the words of the device's refusal, never logged as "not this
    backend's store" (left as it is) first and then refused on the detach (248/5)."""
    job = run(job_for(backend, Job.Kind.DESTROY))
    _refused_and_kept(job, backend, theirs)
    assert "The destroy changed nothing: the area is left on and the backend kept." in job.error
    assert "not this backend's store" not in job.log, job.log


def test_one_over_its_file_and_on_is_refused_and_kept(loop_area: LoopArea) -> None:
    with _theirs_on(loop_area, loop_area[2]) as (backend, theirs):
        off = run(job_for(backend, Job.Kind.DEACTIVATE))
        _refused_and_kept(off, backend, theirs)
        assert "or a swapadmin from before 2026-12-07 did" in off.error, off.error
        assert f"swapoff {theirs}" in off.error, off.error

        _destroy_refused(backend, theirs)
        assert observe_backend(backend) == Backend.Observed.FOREIGN  # never "off"


def test_one_over_its_unlinked_file_and_on_is_refused_and_kept(loop_area: LoopArea) -> None:
    """The same device, its file unlinked since: it still serves the file as recorded (its
    inode), so the destroy is refused with the record kept, never "not ours" and forgotten
    with the area on (246/1)."""
    path = loop_area[2]
    with _theirs_on(loop_area, path) as (backend, theirs):
        path.unlink()
        _destroy_refused(backend, theirs)


def test_one_over_its_renamed_file_and_on_is_refused_and_kept(loop_area: LoopArea) -> None:
    """The same device, its file renamed since (sysfs names it by its new name): it still
    serves the file as recorded, its inode, so the destroy is refused with the record kept
    (247/1: a look that also asked sysfs to name the path forgot the row here)."""
    path = loop_area[2]
    with _theirs_on(loop_area, path) as (backend, theirs):
        path.rename(path.with_name("area.old"))
        try:
            _destroy_refused(backend, theirs)
        finally:
            path.with_name("area.old").rename(path)


def test_one_over_anothers_file_with_its_own_gone_is_left_on(
    loop_area: LoopArea, scratch: Path
) -> None:
    path = loop_area[2]
    other = scratch / "theirs"  # made while ours lives: never given its inode's number
    other.write_bytes(bytes(16 << 20))
    subprocess.run(["mkswap", "-q", str(other)], check=True)
    with _theirs_on(loop_area, other) as (backend, theirs):
        path.unlink()
        assert observe_backend(backend) == Backend.Observed.FOREIGN

        job = run(job_for(backend, Job.Kind.DESTROY))

        assert job.state == Job.State.SUCCEEDED, job.log
        assert kernel.find_area(theirs) is not None  # theirs, left on
        assert attached_loops().get(theirs) == str(other)
        assert not Backend.objects.filter(pk=backend.pk).exists()


def test_its_own_held_open_by_another_is_not_detached_under_it(loop_area: LoopArea) -> None:
    """A LOOP_CLR_FD of a device another process holds open only marks it to detach at the
    last close: the destroy says so, keeps the record, takes the mark back (246/5: else a
    later swapon of it would detach itself at the next swapoff) and is tried again."""
    backend, device, path = loop_area
    held = os.open(device, os.O_RDONLY)
    try:
        job = run(job_for(backend, Job.Kind.DESTROY))
        assert job.state == Job.State.QUEUED, job.log  # a later try may find it free
        assert f"{device} is held open by another process" in job.log, job.log
        kept = Backend.objects.get(pk=backend.pk)
        assert kept.state.get("device") == device
        assert path.exists()
    finally:
        os.close(held)
    assert attached_loops().get(device) == str(path)  # still attached after that close
    gone = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))
    assert gone.state == Job.State.SUCCEEDED, gone.log
    assert device not in attached_loops()


def test_a_name_field_that_only_begins_like_a_backends_is_still_refused(
    loop_area: LoopArea,
) -> None:
    """A person's device whose name field begins "swapadmin:" but holds no backend's id (a
    path given as typed to a losetup that copies it, or any caller of the ioctl) is not
    taken for another backend's device, which a destroy forgets: with this backend's file
    unlinked and the area on, the destroy is refused and the record kept (251/5)."""
    path = loop_area[2]
    with _theirs_on(loop_area, path) as (backend, theirs):
        fd = os.open(theirs, os.O_RDONLY)
        try:
            info = list(store.loop_info(fd, "its name"))
            info[9] = b"swapadmin:not-an-id"
            fcntl.ioctl(fd, LOOP_SET_STATUS64, store.LOOP_INFO64.pack(*info))
            assert store.loop_status(fd)[1] == b"swapadmin:not-an-id"
        finally:
            os.close(fd)
        path.unlink()
        _destroy_refused(backend, theirs)
