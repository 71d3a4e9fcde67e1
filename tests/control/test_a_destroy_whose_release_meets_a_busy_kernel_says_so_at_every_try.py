"""A destroy whose release meets the kernel's EBUSY (a raw ``OSError`` from a third party's
kind) says the kernel's words at every try, and is tried again while tries are left. The
first try swapped the area off, so it said what it had done; the next, with nothing more
to do before the release, raised the bare ``OSError``, which the runner reports as an
internal error of the worker (254/2)."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import kernel
from backends.plugins.block import BlockBackend
from backends.plugins.file import FileBackend
from backends.plugins.loop import LoopBackend
from backends.plugins.zram import ZramBackend
from backends.registry import Registry
from swapadmin.core import handlers, runner
from swapadmin.core import plugins as core_plugins
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


class Held(FileBackend):
    """The file kind, whose release finds its store held."""

    name = "held"
    label = "Held"

    def swapfile(self, enable: bool) -> None:
        if not enable:
            raise OSError(errno.EBUSY, "Device or resource busy", self.swap_path)
        super().swapfile(enable)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch, host_row, swap_root: Path) -> Iterator[Backend]:
    """A provisioned backend of the held kind, swapped on; swapped off after the test."""
    reg = Registry()
    for cls in (FileBackend, BlockBackend, LoopBackend, ZramBackend, Held):
        reg.register(cls)
    monkeypatch.setattr(handlers, "registry", lambda: reg)
    monkeypatch.setattr(core_plugins, "registry", lambda: reg)
    path = swap_root / "held"
    backend = Backend.objects.create(
        host=host_row, kind="held", name="held", params={"path": str(path)},
        size_bytes=16 * MiB,
    )  # fmt: skip
    try:
        made = run(job_for(backend, Job.Kind.PROVISION, activate=True))
        assert made.state == Job.State.SUCCEEDED, made.log
        assert kernel.is_active(str(path))
        yield Backend.objects.get(pk=backend.pk)
    finally:
        if kernel.is_active(str(path)):
            subprocess.run(["swapoff", str(path)], check=True)


def ran(job: Job) -> Job:
    """The job run by the runner itself: a retry is left in the queue, never sent."""
    runner.run(job.pk, worker="w@x")
    job.refresh_from_db()
    return job


def test_each_try_says_the_kernels_words_and_the_last_fails_for_good(held: Backend) -> None:
    first = ran(job_for(held, Job.Kind.DESTROY))
    assert first.state == Job.State.QUEUED, first.log
    assert "this destroy had swapped" in first.log, first.log
    assert not kernel.is_active(held.swap_path)

    # The next try: the area is off already, and the release meets the same EBUSY.
    second = ran(first)
    assert second.state == Job.State.QUEUED and second.attempt == 2, second.log
    # The log, not the waiting reason, which is cut at 255 characters.
    tried = second.log.split("attempt 2 of 4")[1]
    assert "Device or resource busy" in tried, second.log
    said = "This try changed nothing; what an earlier try did is in the job's log."
    assert f"{said} The backend is kept. (will try again in 10 s)" in tried, second.log
    assert "internal error" not in second.log, second.log

    Job.objects.filter(pk=first.pk).update(attempt=runner.MAX_RETRIES)
    last = ran(first)
    assert last.state == Job.State.FAILED, last.log
    assert "Device or resource busy" in last.error, last.error
    assert "The backend is kept: destroy it again to finish." in last.error, last.error
    assert "internal error" not in last.error, last.error
    assert Backend.objects.filter(pk=held.pk).exists()
