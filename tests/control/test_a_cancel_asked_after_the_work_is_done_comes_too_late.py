"""A job whose handler returned is done, whatever its kind: a cancel asked after its last
cancel point ends it as succeeded, its log saying the cancel came too late, never as
cancelled, which would be untrue (the work is done) and which the dynamic policy reads as
a turn-on that failed (review 214/2).

The cancel is asked at the worst moment: by a hook on what the handler does last, after
its last step."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import header
from swapadmin.core import handlers
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import active_swaps, needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


def too_late(kind: str) -> str:
    return f"a cancel asked meanwhile came too late: the {kind} had done its work, and it is done"


def ask_cancel(job_pk: int) -> None:
    Job.objects.filter(pk=job_pk).update(cancel_requested=True)


def provisioned(host_row, path: Path, **params) -> Backend:
    backend = Backend.objects.create(
        host=host_row, kind="file", name=path.name, params={"path": str(path)},
        size_bytes=16 * MiB, label="before",
    )  # fmt: skip
    made = run(job_for(backend, Job.Kind.PROVISION, **params))
    assert made.state == Job.State.SUCCEEDED, made.log
    return Backend.objects.get(pk=backend.pk)


def destroyed(backend: Backend) -> None:
    if Backend.objects.filter(pk=backend.pk).exists():
        gone = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.log


def test_a_destroy_asked_to_cancel_as_it_deletes_the_row_is_done(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = swap_root / "gone"
    backend = provisioned(host_row, path)
    job = job_for(backend, Job.Kind.DESTROY)
    delete = Backend.delete

    def cancel_asked_meanwhile(self: Backend, *args, **kwargs):  # type: ignore[no-untyped-def]
        ask_cancel(job.pk)
        return delete(self, *args, **kwargs)

    try:
        with monkeypatch.context() as m:
            m.setattr(Backend, "delete", cancel_asked_meanwhile)
            job = run(job)
        assert job.state == Job.State.SUCCEEDED, job.log
        assert too_late("destroy") in job.log, job.log
        assert not Backend.objects.filter(pk=backend.pk).exists() and not path.exists()
    finally:
        destroyed(backend)


def test_an_edit_asked_to_cancel_as_it_writes_the_label_is_done(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = swap_root / "edited"
    backend = provisioned(host_row, path)
    job = job_for(backend, Job.Kind.EDIT, label="after")
    set_label = header.set_label

    def cancel_asked_meanwhile(plugin, label):  # type: ignore[no-untyped-def]
        ask_cancel(job.pk)
        return set_label(plugin, label)

    try:
        with monkeypatch.context() as m:
            m.setattr(header, "set_label", cancel_asked_meanwhile)
            job = run(job)
        assert job.state == Job.State.SUCCEEDED, job.log
        assert too_late("edit") in job.log, job.log
        backend.refresh_from_db()
        assert backend.label == "after" and backend.header["label"] == "after"
    finally:
        destroyed(backend)


def test_a_provision_asked_to_cancel_as_it_swaps_on_is_done_and_desired_active(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Created with "activate": the area is on, so the backend is desired active, as the
    dynamic policy and drift checks then read it."""
    path = swap_root / "made"
    backend = Backend.objects.create(
        host=host_row, kind="file", name="made", params={"path": str(path)}, size_bytes=16 * MiB
    )
    swapon = handlers._swapon

    def cancel_asked_meanwhile(ctx, plugin) -> None:  # type: ignore[no-untyped-def]
        swapon(ctx, plugin)
        ask_cancel(ctx.job.pk)

    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_swapon", cancel_asked_meanwhile)
            job = run(job_for(backend, Job.Kind.PROVISION, activate=True))
        assert job.state == Job.State.SUCCEEDED, job.log
        assert too_late("provision") in job.log, job.log
        backend.refresh_from_db()
        assert backend.desired_state == Backend.Desired.ACTIVE
        assert str(path) in active_swaps()
    finally:
        destroyed(backend)
