"""An activate reads the area's swap header to know whether it needs one. Only a page 0 that
holds no valid swap header means "no header"; a read that fails (EIO from the disk, a
descriptor limit, a device identity that cannot be read) is the job's error, and nothing is
written. Before, any failure was taken for "no header": activate ran mkswap, whose proof
read page 0 again, found the recorded UUID (the header was intact), and wrote a new header
with no bad pages, wiping the list a scan had recorded; auto-repair runs activate with no
one watching.

The failing read is a monkeypatch: ``backends.base._preadv_all``, the lowest read of page
I/O, fails once with EIO. The harm needs a read that fails and then works, which the real
faulty disk (tests/fixtures/faulty.py) cannot give: it fails its pages on every read, and
an area whose page 0 always fails is refused by activate's own proof (``swapfile(True)``
reads page 0 first) before its header is read. A descriptor limit fails the later writes'
opens alike. Everything else is real: a block backend over a loop device of its own, its
header's bad pages, the kernel's swapon."""

from __future__ import annotations

import errno
import os

import pytest

from backends import Policy, header, kernel
from backends import base as base_mod
from backends.errors import KernelError
from swapadmin.core.models import Backend, Job
from swapadmin.core.plugins import build_plugin
from tests.control.test_run_job_directly import job_for, run
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

BAD = [7, 9]  # pages a scan found failing, recorded in the header as a scan records them


def read_header(backend: Backend) -> header.SwapHeader:
    backend.refresh_from_db()
    with build_plugin(backend, Policy.from_env()) as plugin:
        return header.read_header(plugin)


def fail_once_at_page_0(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The next page I/O read of page 0 fails with EIO, as a disk's would; later ones work.
    Returns the list the failures are recorded in."""
    real = base_mod._preadv_all
    failed: list[str] = []

    def preadv_all(fd: int, chunk: memoryview, offset: int, path: str) -> None:
        if offset == 0 and not failed:
            failed.append(path)
            raise KernelError(
                f"read from {path} at byte 0 failed: {os.strerror(errno.EIO)}",
                errno=errno.EIO,
                retryable=False,
            )
        real(fd, chunk, offset, path)

    monkeypatch.setattr(base_mod, "_preadv_all", preadv_all)
    return failed


def test_a_header_read_that_fails_is_the_jobs_error_and_the_bad_pages_stay(
    host_row, loop_device, monkeypatch
):
    backend = Backend.objects.create(
        host=host_row, kind="block", name="disk", params={"device": loop_device}
    )
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.error
    backend.refresh_from_db()
    with build_plugin(backend, Policy.from_env()) as plugin:
        header.set_badpages(plugin, BAD)
    before = read_header(backend)
    assert list(before.badpages) == BAD

    failed = fail_once_at_page_0(monkeypatch)
    job = run(job_for(backend, Job.Kind.ACTIVATE))

    assert failed == [loop_device]
    after = read_header(backend)
    assert (after.uuid, list(after.badpages)) == (before.uuid, BAD)
    assert job.state == Job.State.FAILED, job.log
    assert job.error == f"read from {loop_device} at byte 0 failed: Input/output error"
    assert "no swap header" not in job.log
    assert not kernel.is_active(loop_device)

    # Once the disk answers, the same backend activates with its header as it was.
    again = run(job_for(backend, Job.Kind.ACTIVATE))
    assert again.state == Job.State.SUCCEEDED, again.error
    assert kernel.is_active(loop_device)
    assert list(read_header(backend).badpages) == BAD
    off = run(job_for(backend, Job.Kind.DEACTIVATE))
    assert off.state == Job.State.SUCCEEDED, off.error
