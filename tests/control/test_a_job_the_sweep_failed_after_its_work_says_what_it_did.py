"""A job the sweep failed after the handler's last cancel point (its worker judged gone, or
its cancel unconfirmed) keeps the sweep's failure, and its log says the work was done all
the same, naming what was done; it is not told a cancel came too late when nobody asked
one (review 214/3), nor that nothing more was done.

The sweep comes at the worst moment: by a hook on what the handler does last."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db.models import Q

from swapadmin.core import handlers, orphans
from swapadmin.core.models import Backend, Job
from tests.control.test_a_cancel_asked_after_the_work_is_done_comes_too_late import (
    destroyed,
    provisioned,
)
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import active_swaps, needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

SWEPT = "the worker running it stopped (for the test)"


def swept(job_pk: int) -> None:
    assert orphans.fail_job(Job.objects.get(pk=job_pk), SWEPT, Q())


def test_a_resize_swept_once_the_store_has_its_new_size_says_the_sweep(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = swap_root / "area"
    backend = provisioned(host_row, path, activate=True)
    mkswap = handlers._mkswap

    def swept_meanwhile(ctx, plugin):  # type: ignore[no-untyped-def]
        swept(ctx.job.pk)
        return mkswap(ctx, plugin)

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_mkswap", swept_meanwhile)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=8 * MiB))
        assert job.state == Job.State.FAILED and job.error == SWEPT, job.log
        assert (
            f"the job was failed meanwhile by the sweep, but {path} was resized to {8 * MiB} "
            "bytes all the same"
        ) in job.log, job.log
        assert "too late" not in job.log
        assert str(path) in active_swaps() and path.stat().st_size == 8 * MiB
    finally:
        destroyed(backend)


def test_a_destroy_swept_as_it_deletes_the_row_says_it_was_done(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = swap_root / "gone"
    backend = provisioned(host_row, path)
    job = job_for(backend, Job.Kind.DESTROY)
    delete = Backend.delete

    def swept_meanwhile(self: Backend, *args, **kwargs):  # type: ignore[no-untyped-def]
        swept(job.pk)
        return delete(self, *args, **kwargs)

    try:
        with monkeypatch.context() as m:
            m.setattr(Backend, "delete", swept_meanwhile)
            job = run(job)
        assert job.state == Job.State.FAILED and job.error == SWEPT, job.log
        said = "the job was failed meanwhile by the sweep, but the destroy had done its work"
        assert said in job.log and "nothing more done" not in job.log, job.log
        assert not Backend.objects.filter(pk=backend.pk).exists() and not path.exists()
    finally:
        destroyed(backend)
