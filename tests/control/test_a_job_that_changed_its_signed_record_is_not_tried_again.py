"""A job whose kind changed what of the backend's state the job's signature names (here a
loop device attached) and then failed in a way worth a later try is failed at once, not
put back in the queue: its next try, signed for the state as it was, would be refused
as rows changed since signing, minutes later, in words that hide the first failure
(255/1). A failure that changed nothing of it is still tried again.

The kind is a third party's over the loop kind, whose swapon meets a busy device (a
``BusyError``, the contract's retryable error); the device it attaches is real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import kernel
from backends.errors import BusyError
from backends.plugins.block import BlockBackend
from backends.plugins.file import FileBackend
from backends.plugins.loop import LoopBackend
from backends.plugins.zram import ZramBackend
from backends.registry import Registry
from swapadmin.core import handlers, runner
from swapadmin.core import plugins as core_plugins
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import attached_loops, needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

BUSY = "the device is held by another opener for now"


class Contended(LoopBackend):
    """The loop kind, whose swapon finds its device busy."""

    name = "contended"
    label = "Contended"

    def swap_on(self, store: Any, **kw: Any) -> None:
        raise BusyError(BUSY)


def ran(job: Job) -> Job:
    """The job run by the runner itself: a retry is left in the queue, never sent."""
    runner.run(job.pk, worker="w@x")
    job.refresh_from_db()
    return job


@pytest.fixture
def kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry()
    for cls in (FileBackend, BlockBackend, LoopBackend, ZramBackend, Contended):
        reg.register(cls)
    monkeypatch.setattr(handlers, "registry", lambda: reg)
    monkeypatch.setattr(core_plugins, "registry", lambda: reg)


@pytest.fixture
def contended(kinds: None, host_row, swap_root: Path) -> Iterator[tuple[Backend, Path]]:
    """A provisioned backend of the contended kind, off, its device attached: (row, file).
    Every device over its file is detached after the test, and the file removed."""
    path = swap_root / "contended"
    backend = Backend.objects.create(
        host=host_row, kind="contended", name="contended", params={"path": str(path)},
        size_bytes=16 * MiB,
    )  # fmt: skip
    try:
        made = run(job_for(backend, Job.Kind.PROVISION))
        assert made.state == Job.State.SUCCEEDED, made.log
        yield Backend.objects.get(pk=backend.pk), path
    finally:
        for dev, served in attached_loops().items():
            if served in (str(path), f"{path} (deleted)"):
                assert not kernel.is_active(dev)  # never swapped on: swap_on refuses
                sh("losetup", "-d", dev, check=False)
        path.unlink(missing_ok=True)


def test_an_activate_that_attached_a_device_and_failed_is_not_queued(
    contended: tuple[Backend, Path],
) -> None:
    backend, path = contended
    # Its device gone, as after a reboot, and its number taken by another's (this test's
    # own, over a file of its own): the activate attaches a device under a new number.
    old = backend.state["device"]
    sh("losetup", "-d", old)
    other = path.with_name("other")
    other.write_bytes(b"\0" * MiB)
    taken = sh("losetup", "--show", old, str(other)).stdout.strip()
    try:
        assert taken == old
        job = ran(job_for(backend, Job.Kind.ACTIVATE))

        assert job.state == Job.State.FAILED, job.log
        assert BUSY in job.error, job.error
        assert "not tried again: this job changed the backend's record of its store" in job.error
        assert job.attempt == 0 and "will try again" not in job.log, job.log
        device = Backend.objects.get(pk=backend.pk).state["device"]
        assert device != old and attached_loops().get(device) == str(path)
    finally:
        sh("losetup", "-d", old, check=False)
        other.unlink()

    # Run again, signed for the row as it now stands: it gets as far as the swapon again.
    again = ran(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.ACTIVATE))
    assert "rows changed since signing" not in again.log, again.log
    assert again.state == Job.State.QUEUED and BUSY in again.waiting_reason, again.log


def test_an_activate_that_changed_nothing_of_it_is_tried_again(
    contended: tuple[Backend, Path],
) -> None:
    backend, _path = contended
    job = ran(job_for(backend, Job.Kind.ACTIVATE))

    assert job.state == Job.State.QUEUED, job.log
    assert job.attempt == 1 and "will try again" in job.log, job.log
    assert BUSY in job.waiting_reason, job.waiting_reason
    Job.objects.filter(pk=job.pk).update(state=Job.State.CANCELLED)
