"""A resize that swapped its area off puts back only what was: its swapon again never
makes a store (a zram device hot_added, a loop device attached) in place of one that is
gone, or that no longer proves to be this backend's (review 220/2). A store gone meanwhile
is said to be gone, not to have perhaps been changed by the resize (220/3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.plugins import zram as zram_module
from swapadmin.core import handlers
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import active_swaps, needs_root, zram_ledger

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("on_testhost", "zram_cleanup"),
    needs_root,
]


def _active_zram(host_row) -> Backend:
    """An 8 MiB zram area, provisioned and on."""
    backend = Backend.objects.create(
        host=host_row, kind="zram", name="z", params={}, size_bytes=8 * MiB,
        desired_state=Backend.Desired.ACTIVE,
    )  # fmt: skip
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.error
    on = run(job_for(backend, Job.Kind.ACTIVATE))
    assert on.state == Job.State.SUCCEEDED, on.error
    backend.refresh_from_db()
    assert backend.state["device"] in active_swaps()
    return backend


def _destroyed(backend: Backend) -> None:
    gone = run(job_for(backend, Job.Kind.DESTROY))
    assert gone.state == Job.State.SUCCEEDED, gone.error


def test_a_zram_device_removed_meanwhile_is_said_gone(
    host_row, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The device is removed between the swapoff and the resize (as a person's
    ``zramctl --reset`` would): the job says the store is not there any more, and adds
    none. Before, the words of its "no device" were replaced by another "no device", raised
    naming the area for the "stays off" words."""
    backend = _active_zram(host_row)
    name = Path(backend.state["device"]).name
    swapoff = handlers._swapoff

    def removed_meanwhile(ctx, plugin, **kw) -> None:  # type: ignore[no-untyped-def]
        swapoff(ctx, plugin, **kw)
        plugin.close()  # the kernel refuses a removal while the device is open
        zram_module.hot_remove(name)  # resets it first; waits out udev's probe

    added = len(zram_ledger())
    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_swapoff", removed_meanwhile)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert "stays off: its store is not there any more" in job.error, job.error
        assert "may have changed" not in job.error, job.error
        assert "again as it was" not in job.log, job.log
        assert zram_ledger()[added:] == [], "the job added a device"
    finally:
        _destroyed(backend)


def test_a_device_not_proven_is_not_replaced_by_a_new_one(
    host_row, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record the swapon again builds its plugin from loses the device's number after
    the swapoff, and a cancel is asked meanwhile. (A job refuses such a record before it
    touches the area, so it is made here, between the two, for the test.) Nothing proves
    the device is this backend's, and the swapon again refuses rather than add a device in
    its place: before, the kind's enable hot_added a fresh one, recorded it, and left it
    there."""
    backend = _active_zram(host_row)
    swapoff = handlers._swapoff

    def forgotten_meanwhile(ctx, plugin, **kw) -> None:  # type: ignore[no-untyped-def]
        swapoff(ctx, plugin, **kw)
        del ctx.backend.state["store"]["devnum"]
        Job.objects.filter(pk=ctx.job.pk).update(cancel_requested=True)

    added = len(zram_ledger())
    try:
        with monkeypatch.context() as m:
            m.setattr(handlers, "_swapoff", forgotten_meanwhile)
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=16 * MiB))
        assert job.state == Job.State.FAILED, job.log
        assert job.error.startswith("cancelled; "), job.error
        assert (
            "stays off, as swapon again was refused: /dev/zram1: this backend has no record "
            "of its store's identity"
        ).replace("/dev/zram1", backend.state["device"]) in job.error, job.error
        assert zram_ledger()[added:] == [], "the job added a device"
    finally:
        _destroyed(backend)
