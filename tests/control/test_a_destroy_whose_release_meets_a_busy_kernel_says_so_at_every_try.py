"""A destroy whose release meets the kernel's EBUSY (a raw ``OSError`` from a third party's
kind) says the kernel's words at every try, and is tried again while tries are left. The
first try swapped the area off, so it said what it had done; the next, with nothing more
to do before the release, raised the bare ``OSError``, which the runner reports as an
internal error of the worker (254/2)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import kernel
from backends.plugins.file import FileBackend
from swapadmin.core import runner
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, ran, run
from tests.fixtures.host import needs_root
from tests.fixtures.kinds import use_kinds

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


class Held(FileBackend):
    """The file kind, whose release finds its store held."""

    name = "held"
    label = "Held"
    refusal = errno.EBUSY

    def swapfile(self, enable: bool) -> None:
        if not enable:
            raise OSError(self.refusal, os.strerror(self.refusal), self.swap_path)
        super().swapfile(enable)


class Denied(Held):
    """The file kind, whose release is refused for good."""

    name = "denied"
    label = "Denied"
    refusal = errno.EACCES


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch, host_row, swap_root: Path) -> Iterator[Backend]:
    """A provisioned backend of the held kind, swapped on; swapped off after the test."""
    use_kinds(monkeypatch, Held, Denied)
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
    said = "What earlier tries of this destroy did is in the job's log."
    assert f"{said} The backend is kept. (will try again in 10 s)" in tried, second.log
    assert "internal error" not in second.log, second.log

    Job.objects.filter(pk=first.pk).update(attempt=runner.MAX_RETRIES)
    last = ran(first)
    assert last.state == Job.State.FAILED, last.log
    assert "Device or resource busy" in last.error, last.error
    assert "The backend is kept: mend that and destroy it again." in last.error, last.error
    assert "internal error" not in last.error, last.error
    assert Backend.objects.filter(pk=held.pk).exists()


def test_a_first_try_that_did_nothing_says_only_what_to_do(held: Backend) -> None:
    """Off already, and the release refused for good: nothing of this try to tell, and
    nothing said to be unchanged (a step may fail half-way: 259/5)."""
    subprocess.run(["swapoff", held.swap_path], check=True)
    Backend.objects.filter(pk=held.pk).update(kind="denied")

    job = ran(job_for(Backend.objects.get(pk=held.pk), Job.Kind.DESTROY))

    assert job.state == Job.State.FAILED, job.log
    assert job.error.startswith("PermissionError: [Errno 13] Permission denied"), job.error
    assert job.error.endswith("'. The backend is kept: mend that and destroy it again."), job.error
    assert "internal error" not in job.error and "Before that" not in job.error, job.error
