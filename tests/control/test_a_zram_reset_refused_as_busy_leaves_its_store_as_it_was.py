"""A zram resize resets the device, which the kernel refuses (EBUSY) while anyone holds it
open: udev's probe, a health probe or a person's look just after the swapoff. The kernel
refuses before it changes anything. The resize tries again while the device is held a
moment (225/7); held for longer, the job says a call was refused as busy, not that the
resize may have changed the store, and the area is not swapped on again under another's
hands; once it is free, activate takes it back as it was (review 224/1)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from backends import KernelError
from backends.plugins import zram as zram_module
from swapadmin.core.models import Backend, Job
from tests.control.test_a_swapon_again_makes_no_store import _active_zram
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import active_swaps, hot_add_zram, needs_root

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("on_testhost", "zram_cleanup"),
    needs_root,
]


def _disksize(device: str) -> int:
    return int((Path("/sys/block") / Path(device).name / "disksize").read_text())


def test_a_reset_held_off_leaves_the_store_as_it_was(
    host_row, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zram_module, "RESET_WAIT", 0.0)  # held all along: refused at once
    backend = _active_zram(host_row)
    device = backend.state["device"]
    held = os.open(device, os.O_RDONLY)  # a reader's, as udev's probe would hold it
    try:
        job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert "reset failed: Device or resource busy" in job.error, job.error
        assert (
            f"{device} stays off: a call on the way was refused as busy, which may be another "
            "holding its store"
        ) in job.error, job.error
        assert "may have changed" not in job.error, job.error
        assert device not in active_swaps()
        assert _disksize(device) == 8 * MiB  # never reset
    finally:
        os.close(held)
    try:
        backend.refresh_from_db()
        assert backend.size_bytes == 8 * MiB
        on = run(job_for(backend, Job.Kind.ACTIVATE))
        assert on.state == Job.State.SUCCEEDED, on.error  # its header is still there
        assert device in active_swaps()
    finally:
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_a_device_held_a_moment_is_reset_once_let_go(
    host_row, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder lets go once the kernel has refused the first reset: the resize goes on,
    and the area is on again at its new size."""
    backend = _active_zram(host_row)
    device = backend.state["device"]
    held = [os.open(device, os.O_RDONLY)]
    refused: list[int] = []
    write = zram_module._write

    def let_go_once_refused(name: str, attr: str, value: str | int) -> None:
        try:
            write(name, attr, value)
        except KernelError as e:
            if attr == "reset" and held:
                refused.append(e.errno or 0)
                os.close(held.pop())
            raise

    try:
        with monkeypatch.context() as m:
            m.setattr(zram_module, "_write", let_go_once_refused)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert refused == [errno.EBUSY], refused  # once
        assert job.state == Job.State.SUCCEEDED, job.error
        assert device in active_swaps() and _disksize(device) == 16 * MiB
    finally:
        for fd in held:
            os.close(fd)
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


def test_a_device_put_in_its_place_while_it_was_held_is_never_reset(
    host_row, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the device was held, it was removed and someone's device added, most likely
    under the same name (the lowest free number) and holding their data: the next try
    proves the device again and refuses, where a reset by name took theirs, formatted it
    and swapped it on (review 226/3)."""
    backend = _active_zram(host_row)
    device = backend.state["device"]
    name = Path(device).name
    held = [os.open(device, os.O_RDONLY)]
    theirs: list[str] = []
    write = zram_module._write

    def replaced_once_refused(name_: str, attr: str, value: str | int) -> None:
        try:
            write(name_, attr, value)
        except KernelError:
            if attr == "reset" and held:
                os.close(held.pop())
                write(name, "reset", 1)
                zram_module.hot_remove(name)
                dev = hot_add_zram()  # noted: the session's take-down removes it
                theirs.append(dev)
                write(Path(dev).name, "disksize", 8 * MiB)
                with open(dev, "r+b") as f:
                    f.write(b"THEIR DATA")
            raise

    try:
        with monkeypatch.context() as m:
            m.setattr(zram_module, "_write", replaced_once_refused)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert theirs, job.log
        assert job.state == Job.State.FAILED, job.log
        assert theirs[0] not in active_swaps()
        with open(theirs[0], "rb") as f:
            assert f.read(10) == b"THEIR DATA"  # never reset, never formatted
        assert _disksize(theirs[0]) == 8 * MiB
    finally:
        for fd in held:
            os.close(fd)
        gone = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error
