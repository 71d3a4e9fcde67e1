"""A resize that fails after its swapoff in a way that may have changed the store (a file
cut short and then a check that fails, a loop device not told its new size) does not swap
the area on again as it was: its header may claim pages the store no longer has, and the
kernel takes that from a loop device whose capacity is still the old one (review 205/1).
The job's error says the area stays off, and the job is not tried again, since an attempt
would find the area off and finish with it so (review 205/5).

The failure is made at the worst moment: the store already changed, then an error."""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
from pathlib import Path

import pytest

from backends import KernelError, kernel
from backends.plugins import loop as loop_module
from backends.plugins.file import FileBackend
from backends.plugins.zram import ZramBackend
from swapadmin.core import handlers
from swapadmin.core.models import Backend, Job
from tests.control.test_a_swapon_again_makes_no_store import _active_zram
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.by_hand import after, swapped_on_by_hand_before, theirs_in_its_place
from tests.fixtures.host import active_swaps, attached_loops, needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


def _provisioned_on(host_row, kind: str, path: Path) -> Backend:
    backend = Backend.objects.create(
        host=host_row, kind=kind, name="area", params={"path": str(path)}, size_bytes=16 * MiB
    )
    made = run(job_for(backend, Job.Kind.PROVISION, activate=True))
    assert made.state == Job.State.SUCCEEDED, made.error
    backend.refresh_from_db()
    return backend


def _resized_and_left_off(backend: Backend, area: str, cause: str) -> None:
    job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
    assert job.state == Job.State.FAILED, job.log  # not QUEUED for another attempt
    assert cause in job.error, job.error
    assert f"{area} stays off: the resize may have changed its store" in job.error, job.error
    assert area not in active_swaps()


def _destroyed(backend: Backend, path: Path) -> None:
    device = backend.state.get("device")
    gone = run(job_for(backend, Job.Kind.DESTROY))
    assert gone.state == Job.State.SUCCEEDED, gone.error
    assert device not in attached_loops() and not path.exists()


def test_a_loop_device_not_told_its_smaller_size_is_left_off(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is cut to 8 MiB, then LOOP_SET_CAPACITY fails: the device still reads 16
    MiB, and the kernel would take the old header (review 205/1)."""
    path = swap_root / "area"
    backend = _provisioned_on(host_row, "loop", path)
    ioctl = fcntl.ioctl

    def capacity_refused(fd, request, *args):  # type: ignore[no-untyped-def]
        if request == loop_module.LOOP_SET_CAPACITY:
            raise OSError(errno.ENXIO, os.strerror(errno.ENXIO))
        return ioctl(fd, request, *args)

    try:
        device = backend.state["device"]
        assert device in active_swaps()
        with monkeypatch.context() as m:
            m.setattr(fcntl, "ioctl", capacity_refused)
            _resized_and_left_off(backend, device, f"cannot update the size of {device}")
        assert path.stat().st_size == 8 * MiB  # the store did change
    finally:
        _destroyed(backend, path)


def test_a_file_cut_then_a_retryable_error_is_left_off_and_not_tried_again(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error the job layer would try again: the attempt would find the area off, resize
    it and finish with it off (review 205/5)."""
    path = swap_root / "area"
    backend = _provisioned_on(host_row, "file", path)
    resize = FileBackend.resize

    def cut_then_failed(self: FileBackend, new_size_bytes: int) -> None:
        resize(self, new_size_bytes)
        raise KernelError("a check after the cut failed (for the test)", retryable=True)

    try:
        assert str(path) in active_swaps()
        with monkeypatch.context() as m:
            m.setattr(FileBackend, "resize", cut_then_failed)
            _resized_and_left_off(backend, str(path), "a check after the cut failed")
        assert path.stat().st_size == 8 * MiB
    finally:
        _destroyed(backend, path)


def test_a_swapon_after_the_resize_that_fails_is_said_and_not_tried_again(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resize and its header are done; the swapon after them fails with an error the job
    layer would try again (ENOMEM, likely when people resize swap). An attempt would be
    refused by the signature check (the row's size changed) as "nothing was done": the job
    fails now, saying what it did and that the area stays off (review 211/1)."""
    path = swap_root / "area"
    backend = _provisioned_on(host_row, "file", path)

    def no_memory(ctx, plugin) -> None:
        raise KernelError("swapon: Cannot allocate memory (for the test)", retryable=True)

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_swapon", no_memory)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
        assert job.state == Job.State.FAILED, job.log  # not QUEUED for another attempt
        assert job.error == (
            f"{path} was resized to {8 * MiB} bytes, but swapon: Cannot allocate memory (for "
            f"the test); {path} stays off until it is activated"
        ), job.error
        assert str(path) not in active_swaps() and path.stat().st_size == 8 * MiB
        on = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.ACTIVATE))
        assert on.state == Job.State.SUCCEEDED, on.error  # the header fits the new size
        assert str(path) in active_swaps()
    finally:
        _destroyed(backend, path)


def _header_not_written(ctx, plugin) -> None:
    raise KernelError("mkswap: Input/output error (for the test)", retryable=True)


def test_a_header_that_could_not_be_written_says_to_resize_again(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old header on the new size: activate would be refused, so the error says to
    resize again, which writes the header (review 213/2), then to activate the area, which
    was on before the resize and stays off."""
    path = swap_root / "area"
    backend = _provisioned_on(host_row, "file", path)

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_mkswap", _header_not_written)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert job.error == (
            f"{path} was resized to {8 * MiB} bytes, but mkswap: Input/output error (for the "
            f"test); {path} stays off: resize it again to {8 * MiB} bytes to write its "
            "header, then activate it"
        ), job.error
        again = run(
            job_for(Backend.objects.get(pk=backend.pk), Job.Kind.RESIZE, size_bytes=8 * MiB)
        )
        assert again.state == Job.State.SUCCEEDED, again.error
        on = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.ACTIVATE))
        assert on.state == Job.State.SUCCEEDED, on.error
    finally:
        _destroyed(backend, path)


def test_a_header_not_written_on_an_area_that_was_off_says_only_to_resize_again(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off before the resize, the area has nothing to be turned on again: the error says to
    resize again before it is activated, not to activate it after (review 214/4)."""
    path = swap_root / "area"
    backend = _provisioned_on(host_row, "file", path)

    try:
        off = run(job_for(backend, Job.Kind.DEACTIVATE))
        assert off.state == Job.State.SUCCEEDED, off.error
        with monkeypatch.context() as m:
            m.setattr(handlers, "_mkswap", _header_not_written)
            job = run(
                job_for(Backend.objects.get(pk=backend.pk), Job.Kind.RESIZE, size_bytes=32 * MiB)
            )
        assert job.state == Job.State.FAILED, job.log
        assert job.error == (
            f"{path} was resized to {32 * MiB} bytes, but mkswap: Input/output error (for the "
            f"test); resize it again to {32 * MiB} bytes to write its header before it is "
            "activated"
        ), job.error
        assert str(path) not in active_swaps() and path.stat().st_size == 32 * MiB
    finally:
        _destroyed(backend, path)


def test_a_cancel_asked_once_the_store_has_its_new_size_is_said_to_come_too_late(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Asked while the header is written again: the resize goes on to the end, and the job
    ends as done, saying the cancel came too late, however fast the step was (213/1)."""
    path = swap_root / "area"
    backend = _provisioned_on(host_row, "file", path)
    mkswap = handlers._mkswap

    def cancel_asked_meanwhile(ctx, plugin):  # type: ignore[no-untyped-def]
        Job.objects.filter(pk=ctx.job.pk).update(cancel_requested=True)
        return mkswap(ctx, plugin)

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_mkswap", cancel_asked_meanwhile)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
        assert job.state == Job.State.SUCCEEDED, job.log
        assert (
            f"a cancel asked meanwhile came too late: {path} was resized to {8 * MiB} bytes, "
            "and it is done"
        ) in job.log, job.log
        assert str(path) in active_swaps() and path.stat().st_size == 8 * MiB
    finally:
        _destroyed(backend, path)


@pytest.mark.usefixtures("zram_cleanup")
def test_a_read_that_fails_after_the_change_is_said_with_the_area_left_off(
    host_row, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zram device reset for its new size, then a sysfs access that fails as the bare
    OSError the kind lets through (EIO here, for the test): the job's error gives it and
    that the area stays off, not "internal error in the worker" with those words only in
    the log (review 221/6)."""
    backend = _active_zram(host_row)
    device = backend.state["device"]

    def unreadable(self, name: str, size: int) -> None:  # type: ignore[no-untyped-def]
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    try:
        with monkeypatch.context() as m:
            m.setattr(ZramBackend, "_configure", unreadable)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert job.error.startswith(
            f"OSError: [Errno 5] Input/output error; {device} stays off: the resize may have "
            "changed "
            "its store"
        ), job.error
        assert device not in active_swaps()
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_an_area_swapped_on_after_the_failure_is_not_said_to_stay_off(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is grown, someone swaps it on by hand, then the kind fails: the job says
    the area is on and left so (with the word that its store may have changed), not that it
    stays off (review 224/2)."""
    path = swap_root / "area"
    backend = _provisioned_on(host_row, "file", path)
    resize = FileBackend.resize

    def grown_then_swapped_on_by_hand(self: FileBackend, new_size_bytes: int) -> None:
        resize(self, new_size_bytes)
        subprocess.run(["swapon", str(path)], check=True)
        raise KernelError("a check after the growth failed (for the test)")

    try:
        with monkeypatch.context() as m:
            m.setattr(FileBackend, "resize", grown_then_swapped_on_by_hand)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=24 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert job.error.startswith("a check after the growth failed"), job.error
        assert (
            f"{path} is on: something swapped it on meanwhile, and it is left so, though the "
            "resize may have changed its store"
        ) in job.error, job.error
        assert "stays off" not in job.error, job.error
        assert str(path) in active_swaps()
    finally:
        _destroyed(backend, path)


def test_an_area_swapped_on_after_its_header_is_on_and_the_job_done(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone swaps the area on between its new header and the job's swapon: the kernel
    refuses the job's, and the area, proven this backend's, is on at its new size. Before,
    the job failed saying it stays off until it is activated (review 224/3)."""
    path = swap_root / "area"
    backend = _provisioned_on(host_row, "file", path)
    Backend.objects.filter(pk=backend.pk).update(priority=7)
    backend.refresh_from_db()
    by_hand_first = swapped_on_by_hand_before(handlers._swapon, path)
    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_swapon", by_hand_first)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=24 * MiB))
        assert job.state == Job.State.SUCCEEDED, job.error
        assert f"{path} is on again already: something swapped it on meanwhile" in job.log
        area = kernel.find_area(str(path))
        assert area is not None and area.size_bytes == 24 * MiB - 4096  # all but the header
        # Swapped on by hand with the kernel's own priority, not the row's: said (225/9).
        assert (
            f"{path} is on at priority {area.priority}, not this backend's 7: it was swapped "
            "on with other options"
        ) in job.log, job.log
    finally:
        _destroyed(backend, path)


def test_another_area_swapped_on_after_the_header_is_said_not_this_backends(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone moves the resized file aside and swaps on a swap file of their own at its
    path before the job's swapon: the job says this backend's area is not back on, and
    leaves theirs on (review 224/3)."""
    path = swap_root / "area"
    backend = _provisioned_on(host_row, "file", path)
    try:
        with theirs_in_its_place(path) as put, monkeypatch.context() as m:
            m.setattr(handlers, "_swapon", after(put, handlers._swapon))
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=24 * MiB))
            assert job.state == Job.State.FAILED, job.log
            assert job.error.startswith(
                f"{path} was resized to {24 * MiB} bytes, but this backend's area is not "
                f"back on: something is swapped on at {path} meanwhile, not proven this "
                "backend's"
            ), job.error
            assert "stays off" not in job.error, job.error
            assert str(path) in active_swaps()  # someone's, left as it is
    finally:
        _destroyed(backend, path)


def test_an_area_swapped_on_before_its_header_is_said_on_under_its_old_header(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone swaps the grown file on before its new header is written: the header's write
    is refused (the area is active), and the job says the area is on under its old header,
    not that it stays off (review 225/5)."""
    path = swap_root / "area"
    backend = _provisioned_on(host_row, "file", path)
    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_mkswap", swapped_on_by_hand_before(handlers._mkswap, path))
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=24 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert job.error.endswith(
            f"; {path} is on: something swapped it on meanwhile, and it is left so, under its "
            f"old header: deactivate it and resize it again to {24 * MiB} bytes to write its "
            "header"
        ), job.error
        assert str(path) in active_swaps()
    finally:
        _destroyed(backend, path)


def test_a_look_that_fails_is_not_said_to_leave_the_area_off(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kind fails after the growth, and the look at /proc/swaps then fails too: the job
    says the area is not swapped on again by it, not that it stays off, which it cannot
    know (225/5)."""
    path = swap_root / "area"
    backend = _provisioned_on(host_row, "file", path)
    resize = FileBackend.resize
    active_area = handlers._active_area
    failed: list[bool] = []

    def look(plugin):  # type: ignore[no-untyped-def]
        if failed:
            raise KernelError("cannot read /proc/swaps: Input/output error (for the test)")
        return active_area(plugin)

    def grown_then_failed(self: FileBackend, new_size_bytes: int) -> None:
        resize(self, new_size_bytes)
        failed.append(True)
        raise KernelError("a check after the growth failed (for the test)")

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_active_area", look)
            m.setattr(FileBackend, "resize", grown_then_failed)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=24 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert (
            f"{path} is not swapped on again by this job (whether anything is on there now "
            "cannot be told): the resize may have changed its store"
        ) in job.error, job.error
        assert "stays off" not in job.error, job.error
        assert "cannot read /proc/swaps" in job.log
    finally:
        _destroyed(backend, path)


def test_a_loop_device_is_not_swapped_on_while_its_file_is_resized(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone swaps the loop device on between the file's resize and LOOP_SET_CAPACITY:
    the kernel refuses it (EBUSY), as the resize holds the device with O_EXCL from before
    the file's first change to after the device is told its new size, and the resize goes
    through. Before, the size was kept under the live area (review 226/9), and before
    that, changed under it; a look let go of before the write left the window open
    (229/1)."""
    path = swap_root / "area"
    backend = _provisioned_on(host_row, "loop", path)
    device = backend.state["device"]
    resize = FileBackend.resize
    tried: list[subprocess.CompletedProcess[str]] = []

    def resized_then_swapped_on(self: FileBackend, new_size_bytes: int) -> None:
        resize(self, new_size_bytes)
        tried.append(
            subprocess.run(
                ["swapon", device],
                capture_output=True,
                text=True,
                env={**os.environ, "LC_ALL": "C"},
            )
        )

    try:
        with monkeypatch.context() as m:
            m.setattr(FileBackend, "resize", resized_then_swapped_on)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
        assert tried and tried[0].returncode != 0, tried
        assert "busy" in tried[0].stderr.lower(), tried[0].stderr
        assert job.state == Job.State.SUCCEEDED, job.log
        assert device in active_swaps()  # ours, swapped on again as it was
        with open(device, "rb") as f:
            assert f.seek(0, os.SEEK_END) == 8 * MiB  # told its new size
    finally:
        _destroyed(backend, path)
