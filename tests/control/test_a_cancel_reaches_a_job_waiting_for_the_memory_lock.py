"""A deactivate waits on its host for the memory lock (another swapoff or burn-in holds it:
here the test does). The user cancels it meanwhile: the job stops while it waits, and the
swapoff it was waiting to do never happens, though the lock comes free afterwards. Before,
the wait never looked at the cancel: the sweep failed the job past the cancel grace, and the
job's process swapped the area off anyway once the lock was free, recorded nowhere."""

from __future__ import annotations

import pytest

from backends import kernel
from swapadmin.core import services, tasks
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.swapoff_race import memory_lock_held
from tests.fixtures.workers import wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

STOPPED = ("cancelled at the user's request", "stopped here, nothing more done")


def an_active_file(w, actor: Actor, name: str) -> Backend:
    job = services.create_backend(
        host=w.host, kind="file", name=name, size_bytes=16 << 20, actor=actor,
        params={"path": str(w.swap_root / name)},
    )  # fmt: skip
    assert wait_for_job(job, 120, worker=w).state == Job.State.SUCCEEDED
    backend = Backend.objects.get(name=name, host=w.host)
    on = wait_for_job(services.request_action(backend, Job.Kind.ACTIVATE, actor), 60, worker=w)
    assert on.state == Job.State.SUCCEEDED, on.error
    return backend


@pytest.mark.parametrize("grace", [600, 0], ids=["worker-stops-it", "sweep-fails-it-first"])
def test_the_cancelled_deactivate_never_swaps_off(start_worker, alice, settings, grace):
    settings.SWAPADMIN_CANCEL_GRACE_SECONDS = grace
    actor = Actor(alice, Job.Via.API)
    w = start_worker()
    backend = an_active_file(w, actor, "m0")
    path = str(w.swap_root / "m0")
    with memory_lock_held(w.data_dir):
        off = services.request_action(backend, Job.Kind.DEACTIVATE, actor)
        wait_until(
            lambda: "waiting for another swapoff" in Job.objects.get(pk=off.pk).log,
            60, "the deactivate to wait for the memory lock",
        )  # fmt: skip
        services.cancel_job(Job.objects.get(pk=off.pk), actor)
        if grace == 0:
            tasks.sweep()  # may fail it before its worker looks, or find it ended
        # The line its worker writes once the handler is left: the wait is over.
        wait_until(
            lambda: any(s in Job.objects.get(pk=off.pk).log for s in STOPPED),
            60, "the waiting job to stop",
        )  # fmt: skip
        # Its end is written just after that line: waited for, the lock still held.
        ended = wait_for_job(off, 60, worker=w)
        assert ended.finished and ended.state in (Job.State.CANCELLED, Job.State.FAILED)
        assert kernel.find_area(path) is not None
    # The lock is free: the next job on the backend runs (it waits for the backend's lock
    # on the host if the old job's process still held it) and finds the area still active.
    check = wait_for_job(services.request_action(backend, Job.Kind.ACTIVATE, actor), 60, worker=w)
    assert check.state == Job.State.SUCCEEDED, check.error
    assert kernel.find_area(path) is not None
    off = wait_for_job(services.request_action(backend, Job.Kind.DEACTIVATE, actor), 60, worker=w)
    assert off.state == Job.State.SUCCEEDED, off.error
    assert kernel.find_area(path) is None
