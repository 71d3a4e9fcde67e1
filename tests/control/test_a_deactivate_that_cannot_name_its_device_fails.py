"""Only a backend whose kind has no device now (a loop device not attached, a zram device not
added or recorded during another boot: ``NoDeviceError``) has nothing active. Any other
failure to name the area's path is not "inactive": a deactivate that cannot tell fails,
saying why, and the area stays as it was. Before, any error from ``swap_path`` read as "not
active", so the deactivate succeeded with ``already_inactive`` while the area was on, and
the dynamic swap policy followed a successful deactivate with a destroy that skipped its
swapoff.

The zram kind names its device only within the boot that recorded it, so it reads the boot
id first; here that read fails for real: ``SWAPADMIN_BOOT_ID_FILE`` (the worker's own
environment, which tests of a reboot set too) names a file that is not there. A third
party's kind that says "no device" with a plain BackendError, as every kind did before the
narrow error, gets the same clear job error."""

from __future__ import annotations

from typing import ClassVar

import pytest

from backends import BackendError, Policy, kernel
from backends.plugins.zram import BOOT_ID_FILE_ENV
from swapadmin.core import handlers
from swapadmin.core.context import JobContext
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import needs_root
from tests.fixtures.plain_kind import PlainFile

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


@needs_root
@pytest.mark.usefixtures("zram_cleanup")
def test_a_zram_area_whose_boot_cannot_be_read_is_not_taken_for_inactive(
    host_row, scratch, monkeypatch
):
    backend = Backend.objects.create(
        host=host_row, kind="zram", name="z", params={}, size_bytes=8 * MiB
    )
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.error
    on = run(job_for(backend, Job.Kind.ACTIVATE))
    assert on.state == Job.State.SUCCEEDED, on.error
    backend.refresh_from_db()
    device = backend.state["device"]
    try:
        missing = scratch / "boot_id"
        monkeypatch.setenv(BOOT_ID_FILE_ENV, str(missing))

        job = run(job_for(backend, Job.Kind.DEACTIVATE))

        assert job.state == Job.State.FAILED, (job.result, job.log)
        assert job.error == (
            "cannot tell whether the zram (compressed RAM) area is active: its path could not be "
            f"named: cannot read {missing} ({BOOT_ID_FILE_ENV}): No such file or directory"
        )
        assert kernel.is_active(device)
    finally:
        monkeypatch.delenv(BOOT_ID_FILE_ENV, raising=False)
        gone = run(job_for(backend, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error
        assert not kernel.is_active(device)


class Unnamed(PlainFile):
    """A third party's kind that says it has no path the way every kind said it before
    ``NoDeviceError``: with a plain BackendError."""

    name: ClassVar[str] = "unnamed-test-file"
    label: ClassVar[str] = "unnamed test file"

    @property
    def swap_path(self) -> str:
        raise BackendError("the unnamed area has no device yet; enable it")


def test_a_kind_that_cannot_name_its_path_gets_a_clear_error_not_inactive(host_row, swap_root):
    path = swap_root / "u"
    backend = Backend(host=host_row, kind=Unnamed.name, name="u", params={"path": str(path)})
    job = Job(kind=Job.Kind.DEACTIVATE, host=host_row, params={})
    ctx = JobContext(job=job, backend=backend, policy=Policy.from_env())
    ctx.plugin = Unnamed({"path": str(path)}, policy=ctx.policy)

    with pytest.raises(BackendError) as raised:
        handlers.deactivate(ctx)

    assert raised.value.message == (
        "cannot tell whether the unnamed test file area is active: its path could not be "
        "named: the unnamed area has no device yet; enable it"
    )
