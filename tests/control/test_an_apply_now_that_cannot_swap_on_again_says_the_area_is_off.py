"""A priority applied now to an active file backend, when a loop device comes to reach the
file, so swapadmin rightly will not hand it to the kernel again.

Attached after the swapoff, the swapon again is refused: the job fails once, not retried
into a "success" (a retry finds the area inactive and would only record the priority), and
its error says that the area was swapped off and is inactive now; the row says so too.
Before, the error was the bare loop-device refusal, which spoke of a write and never said
the area was off.

Attached while the job waited for the host's memory lock (here held by the test), through
a real worker, it is found under the lock before the swapoff: the area stays on, at its
old priority, and the words say the new one is recorded (228/1, 229/3).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from backends import fstab, kernel
from backends.plugins.file import FileBackend
from swapadmin.core import edits, handlers, services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.by_hand import then
from tests.fixtures.host import needs_root
from tests.fixtures.swapoff_race import memory_lock_held
from tests.fixtures.workers import WorkerProcess, wait_for_job, wait_until

pytestmark = [needs_root]


@contextmanager
def loop_attached(path: Path) -> Iterator[str]:
    dev = subprocess.run(
        ["losetup", "-r", "-f", "--show", str(path)], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev], check=True)


@pytest.fixture
def edited_to_9(host_row, swap_root: Path) -> Iterator[Backend]:
    """An active 16 MiB file area at priority 5 whose row an edit set to priority 9, as the
    edit records it before its job runs (core/edits.py); destroyed after the test."""
    path = swap_root / "off0"
    backend = Backend.objects.create(
        host=host_row, kind="file", name="off0", params={"path": str(path)},
        size_bytes=16 * MiB, priority=5,
    )  # fmt: skip
    made = run(job_for(backend, Job.Kind.PROVISION, activate=True))
    assert made.state == Job.State.SUCCEEDED, made.error
    Backend.objects.filter(pk=backend.pk).update(priority=9)
    backend.refresh_from_db()
    yield backend
    gone = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))
    assert gone.state == Job.State.SUCCEEDED, gone.error


@pytest.mark.django_db
@pytest.mark.usefixtures("on_testhost")
def test_the_failed_swapon_is_reported_as_an_area_left_off(
    edited_to_9: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = edited_to_9
    path = Path(backend.params["path"])
    loops = contextlib.ExitStack()
    devs: list[str] = []
    with loops, monkeypatch.context() as m:
        attach = lambda: devs.append(loops.enter_context(loop_attached(path)))  # noqa: E731
        m.setattr(handlers, "swapoff_store", then(handlers.swapoff_store, attach))
        job = run(job_for(backend, Job.Kind.EDIT, priority=9, apply="now"))
        assert job.state == Job.State.FAILED, job.log
        assert job.attempt == 0, job.log  # failed once, not requeued
        assert kernel.find_area(str(path)) is None
        assert devs and devs[0] in job.error
        assert "swapped off" in job.error and "inactive now" in job.error, job.error
    backend.refresh_from_db()
    assert backend.observed_state != Backend.Observed.ACTIVE
    _on_again_at_9(backend)


def _on_again_at_9(backend: Backend) -> None:
    """With what failed gone, the area is activated again, at the new priority."""
    on = run(job_for(backend, Job.Kind.ACTIVATE))
    assert on.state == Job.State.SUCCEEDED, on.error
    area = kernel.find_area(backend.params["path"])
    assert area is not None and area.priority == 9


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_one_found_before_the_swapoff_leaves_the_area_on(worker: WorkerProcess, alice) -> None:
    actor = Actor(alice, Job.Via.API)
    path = worker.swap_root / "off0"
    job = services.create_backend(
        host=worker.host, kind="file", name="off0", size_bytes=16 << 20, actor=actor,
        params={"path": str(path)}, priority=5, persist=True,
    )  # fmt: skip
    assert wait_for_job(job, 60, worker=worker).state == Job.State.SUCCEEDED, job.log
    backend = Backend.objects.get(pk=job.backend_id)
    on = wait_for_job(services.request_action(backend, "activate", actor), 60, worker=worker)
    assert on.state == Job.State.SUCCEEDED, on.log
    backend.refresh_from_db()
    try:
        with memory_lock_held(worker.data_dir):
            done = edits.edit_backend(backend, actor, {"priority": 9, "apply": "now"})
            assert done.job is not None
            wait_until(
                lambda: "waiting for another swapoff" in Job.objects.get(pk=done.job.pk).log,
                60, "the edit to wait for the memory lock",
            )  # fmt: skip
            loop = loop_attached(path)
            dev = loop.__enter__()
        try:
            job = wait_for_job(done.job, 60, worker=worker)
        finally:
            loop.__exit__(None, None, None)
        assert job.state == Job.State.FAILED, job.log
        assert job.attempt == 0, job.log  # failed once, not requeued
        area = kernel.find_area(str(path))
        assert area is not None and area.priority == 5, job.log  # never swapped off
        assert dev in job.error
        said = "This job did not swap the area off. Its priority 9 is recorded and used at its next"
        assert said in job.error, job.error
        backend.refresh_from_db()
        assert backend.priority == 9
        # And so does the fstab line, which the boot's activation reads (230/2).
        (entry,) = [e for e in fstab.entries(worker.fstab) if e.spec == str(path)]
        assert "pri=9" in entry.options, entry
    finally:
        if kernel.find_area(str(path)) is not None:
            off = services.request_action(backend, "deactivate", actor)
            assert wait_for_job(off, 60, worker=worker).state == Job.State.SUCCEEDED


@pytest.mark.django_db
@pytest.mark.usefixtures("on_testhost")
def test_a_kinds_bug_in_the_swapon_again_is_said_as_an_area_left_off(
    edited_to_9: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only the kind's refusals: anything its swapon raises after the swapoff is said
    as the area left off, once, never retried. Before, a kind's bug went out bare, and the
    job was retried into a "success" that only recorded the priority (233/7)."""
    backend = edited_to_9

    def broken(self, store, **kw):  # type: ignore[no-untyped-def]
        raise ZeroDivisionError("the kind's own bug")

    with monkeypatch.context() as m:
        m.setattr(FileBackend, "swap_on", broken)
        job = run(job_for(backend, Job.Kind.EDIT, priority=9, apply="now"))
    assert job.state == Job.State.FAILED, job.log
    assert job.attempt == 0, job.log  # failed once, not requeued
    assert kernel.find_area(backend.params["path"]) is None
    said = (
        "could not be swapped on again: swap_on failed unexpectedly for the file kind, "
        "a bug (its traceback is in the worker's log)"
    )
    assert said in job.error and "ZeroDivisionError" in job.error, job.error
    assert "inactive now" in job.error, job.error
    _on_again_at_9(backend)
