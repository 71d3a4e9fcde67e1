"""The loop kind resizes an inactive area through its backing file, which no look at the
file shows to be in use through the loop device: a dm or md device built over that loop
device, a mount of it, or another's O_EXCL open all claim it, and anyone may swap on or
mount what they reach through it. Before, only a loop device over it was looked for (review
228/2): the file was cut under the claim. Now the O_EXCL open just before each write and
before LOOP_SET_CAPACITY finds the claim, and the resize is refused with nothing changed.

This kernel has neither dm nor md; the claim here is another opener's O_EXCL, the same
claim the kernel makes for them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.plugins.file import FileBackend
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import attached_loops, needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


LoopArea = tuple[Backend, str, Path]


@pytest.fixture
def loop_area(host_row, swap_root: Path) -> Iterator[LoopArea]:
    """A 16 MiB loop area, provisioned and off, its device attached: (row, device, file);
    destroyed after the test, unless the test destroyed it."""
    path = swap_root / "area"
    backend = Backend.objects.create(
        host=host_row, kind="loop", name="area", params={"path": str(path)}, size_bytes=16 * MiB
    )
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.error
    backend.refresh_from_db()
    yield backend, backend.state["device"], path
    left = Backend.objects.filter(pk=backend.pk).first()
    if left is not None:
        gone = run(job_for(left, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def _size(device: str) -> int:
    return int(sh("blockdev", "--getsize64", device).stdout)


def _resize_while_another_claims(backend: Backend, device: str, path: Path) -> None:
    """A resize to 8 MiB while another holds ``device`` with O_EXCL: refused, the file
    never cut under the claim."""
    claim = os.open(device, os.O_RDONLY | os.O_EXCL)
    try:
        job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
    finally:
        os.close(claim)
    assert job.state == Job.State.FAILED, job.log
    assert f"{device}, this backend's loop device, is claimed by another" in job.error, job.error
    assert path.stat().st_size == 16 * MiB


def test_the_resize_is_refused_and_the_file_left_as_it_was(loop_area: LoopArea) -> None:
    backend, device, path = loop_area
    _resize_while_another_claims(backend, device, path)
    backend.refresh_from_db()
    assert backend.size_bytes == 16 * MiB
    # Released: the same resize goes through.
    again = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
    assert again.state == Job.State.SUCCEEDED, again.error
    assert path.stat().st_size == 8 * MiB


def test_a_resize_is_refused_while_the_recorded_device_serves_another_file(
    loop_area: LoopArea, swap_root: Path
) -> None:
    """The backend's loop device was detached by hand and its name given to another's file,
    which they hold (as a mount would). The resize is refused before it changes anything,
    in words that say so, not as "claimed" (the claim is theirs, over bytes not the
    backend's) and not after the file was cut (228/6); their device is left as it was.
    Activating attaches the file again, and the resize then goes through."""
    backend, device, path = loop_area
    theirs = swap_root / "theirs"
    with open(theirs, "wb") as f:
        f.truncate(4 * MiB)
    sh("losetup", "-d", device)
    try:
        sh("losetup", device, str(theirs))
        claim = os.open(device, os.O_RDONLY | os.O_EXCL)
        try:
            with open(theirs, "ab") as f:
                f.truncate(6 * MiB)  # grown, its device not told: a LOOP_SET_CAPACITY would
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
            size = _size(device)
        finally:
            os.close(claim)
        assert job.state == Job.State.FAILED, job.log
        assert f"the loop device now at {device} is not this backend's" in job.error, job.error
        assert "Nothing was written" in job.error
        assert path.stat().st_size == 16 * MiB  # nothing changed
        assert size == 4 * MiB  # their device's size was not told anew
        on = run(job_for(backend, Job.Kind.ACTIVATE))
        assert on.state == Job.State.SUCCEEDED, on.error
        backend.refresh_from_db()
        assert backend.state["device"] != device
        off = run(job_for(backend, Job.Kind.DEACTIVATE))
        assert off.state == Job.State.SUCCEEDED, off.error
        again = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
        assert again.state == Job.State.SUCCEEDED, again.error
        assert path.stat().st_size == 8 * MiB
    finally:
        if attached_loops().get(device) == str(theirs):
            sh("losetup", "-d", device, check=False)


def test_a_loop_device_attached_over_it_meanwhile_keeps_its_new_size_untold(
    loop_area: LoopArea, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop device attached over ours after the file's change (which the claim does not
    keep out) is found just before LOOP_SET_CAPACITY: the device keeps its old size, and
    the words say what was refused, not a write (228/3)."""
    backend, device, path = loop_area
    resize = FileBackend.resize
    loops = contextlib.ExitStack()
    over: list[str] = []

    def attached_meanwhile(self, new_size_bytes: int) -> None:  # type: ignore[no-untyped-def]
        resize(self, new_size_bytes)
        over.append(loops.enter_context(attached(device)))

    with loops, monkeypatch.context() as m:
        m.setattr(FileBackend, "resize", attached_meanwhile)
        job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert f"{device}, this backend's loop device, has {over[0]} attached over it" in (
            job.error
        ), job.error
        assert "will not tell it the file's new size" in job.error, job.error
        assert _size(device) == 16 * MiB


def test_a_resize_is_refused_while_the_recorded_device_serves_nothing(
    loop_area: LoopArea,
) -> None:
    """The backend's loop device was detached (by hand here; a restart does the same): the
    resize is refused before it changes anything, not after the file was cut, where the
    header's write through the device failed, again at every try (230/1)."""
    backend, device, path = loop_area
    sh("losetup", "-d", device)
    job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
    assert job.state == Job.State.FAILED, job.log
    said = f"no loop device serves {path} now (the one recorded, {device}, was detached"
    assert said in job.error, job.error
    assert path.stat().st_size == 16 * MiB  # nothing changed
    on = run(job_for(backend, Job.Kind.ACTIVATE))  # the way out the words give
    assert on.state == Job.State.SUCCEEDED, on.error
    off = run(job_for(backend, Job.Kind.DEACTIVATE))
    assert off.state == Job.State.SUCCEEDED, off.error
    again = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
    assert again.state == Job.State.SUCCEEDED, again.error
    assert path.stat().st_size == 8 * MiB


def test_a_device_whose_record_was_lost_is_found_recorded_and_held(
    loop_area: LoopArea,
) -> None:
    """A crash between the attach and the row's write lost the record of the device that
    serves the file: the resize finds it, records it again, holds it and tells it its new
    size, and writes the header through it. Before, it was claimed and told its size, then
    the header could not be written (no device recorded), at every try (231/1)."""
    backend, device, path = loop_area
    _lose_the_record(backend)
    _resized_through(backend, device, path)


def _resized_through(backend: Backend, device: str, path: Path) -> None:
    """A resize to 8 MiB succeeds through ``device``, which the row then records."""
    job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
    assert job.state == Job.State.SUCCEEDED, job.log
    backend.refresh_from_db()
    assert backend.state["device"] == device
    assert path.stat().st_size == 8 * MiB and _size(device) == 8 * MiB


def test_a_found_device_another_holds_is_not_recorded(loop_area: LoopArea) -> None:
    """A lost record and the device serving the file claimed by another: the refusal
    changes nothing, not even the record. Before, the device found was recorded first and
    claimed after, so a refused resize wrote the row (233/6)."""
    backend, device, path = loop_area
    _lose_the_record(backend)
    _resize_while_another_claims(backend, device, path)
    backend.refresh_from_db()
    assert "device" not in backend.state, backend.state


def _lose_the_record(backend: Backend) -> None:
    state = {k: v for k, v in backend.state.items() if k != "device"}
    Backend.objects.filter(pk=backend.pk).update(state=state)
    backend.refresh_from_db()


@pytest.mark.parametrize("detached", [False, True], ids=["attached", "detached"])
def test_a_resize_refused_by_the_files_proof_says_so_and_records_nothing(
    loop_area: LoopArea, detached: bool
) -> None:
    """A lost record, and a header whose UUID is no longer the one swapadmin wrote: the
    resize is refused as not this backend's, and the device found serving the file is not
    recorded (before, it was recorded before the header's proof, 234/5); the device
    detached too, the words do not say "activate it to attach it", which activate would
    then refuse (235/7)."""
    backend, device, path = loop_area
    _lose_the_record(backend)
    if detached:
        sh("losetup", "-d", device)
    uuid = sh("blkid", "-p", "-o", "value", "-s", "UUID", str(path)).stdout.strip()
    sh("swaplabel", "-U", "11111111-2222-3333-4444-555555555555", str(path))
    try:
        job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert "is not this backend's" in job.error, job.error
        assert "no loop device serves" not in job.error, job.error
        backend.refresh_from_db()
        assert "device" not in backend.state, backend.state
        assert path.stat().st_size == 16 * MiB
    finally:
        sh("swaplabel", "-U", uuid, str(path))


def test_a_second_device_serving_the_file_is_never_taken_for_ours(loop_area: LoopArea) -> None:
    """A lost record, and a second loop device attached to the file by hand: which one is
    ours cannot be told, and the resize is refused before either is claimed or recorded.
    Before, the first found was recorded, perhaps theirs (234/5)."""
    backend, device, path = loop_area
    _lose_the_record(backend)
    with attached(path) as theirs:
        job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
        assert job.state == Job.State.FAILED, job.log
        # Neither is named as another's: the words' advice might detach ours (235/7).
        said = f"{path} is attached to {', '.join(sorted((device, theirs)))}, and no record"
        assert said in job.error, job.error
        backend.refresh_from_db()
        assert "device" not in backend.state, backend.state
        assert path.stat().st_size == 16 * MiB


def test_a_stale_record_naming_anothers_device_gives_way_to_ours(
    loop_area: LoopArea, swap_root: Path
) -> None:
    """The record names a loop device that serves another's file now, while ours still
    serves the file: ours is found, held, resized, and recorded (232/5, 235/3)."""
    backend, device, path = loop_area
    other = swap_root / "someone-elses"
    other.write_bytes(bytes(MiB))
    with attached(other) as theirs:
        Backend.objects.filter(pk=backend.pk).update(state={**backend.state, "device": theirs})
        backend.refresh_from_db()
        _resized_through(backend, device, path)
        assert other.read_bytes() == bytes(MiB) and _size(theirs) == MiB


def test_a_file_swapped_on_by_itself_is_named_as_the_active_area(loop_area: LoopArea) -> None:
    """A lost record, and the file itself swapped on by hand beside its loop device: the
    resize is refused naming the file, the row left as it was. Before, it said the file
    was attached to no loop device (235/4)."""
    backend, device, path = loop_area
    _lose_the_record(backend)
    sh("swapon", str(path))
    try:
        job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
        assert job.state == Job.State.FAILED, job.log
        said = f"{path} is active in /proc/swaps, swapped on by itself, not through this"
        assert said in job.error and f"(swapoff {path})" in job.error, job.error
        backend.refresh_from_db()
        assert "device" not in backend.state, backend.state
        assert path.stat().st_size == 16 * MiB
    finally:
        sh("swapoff", str(path))
