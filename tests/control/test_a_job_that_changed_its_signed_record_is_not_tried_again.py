"""A job whose rows, as its try left them, no longer match its signature (here a loop
device found and recorded) and that failed in a way worth a later try is failed at once,
not put back in the queue: its next try would be refused as no longer what was signed,
after the wait, in words that hide the first failure (255/1). A failure that changed
nothing of them is still tried again.

The kind is a third party's over the loop kind, whose swapon meets a busy device (a
``BusyError``, the contract's retryable error); its loop device is real. The row names no
device, as after a crash between the attach and the state's write: the activate finds
the device it attached over the file and records it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import kernel
from backends.errors import BusyError
from backends.plugins.loop import LoopBackend
from swapadmin.core import signing
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, ran, run
from tests.fixtures.host import attached_loops, needs_root
from tests.fixtures.kinds import use_kinds

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

BUSY = "the device is held by another opener for now"


class Contended(LoopBackend):
    """The loop kind, whose swapon finds its device busy."""

    name = "contended"
    label = "Contended"

    def swap_on(self, store: Any, **kw: Any) -> None:
        raise BusyError(BUSY)


@pytest.fixture
def contended(monkeypatch: pytest.MonkeyPatch, host_row, swap_root: Path) -> Iterator[Backend]:
    """A provisioned backend of the contended kind, off, its device attached; destroyed
    after the test (the scratch root's take-down detaches whatever a failure left)."""
    use_kinds(monkeypatch, Contended)
    backend = Backend.objects.create(
        host=host_row, kind="contended", name="contended",
        params={"path": str(swap_root / "contended")}, size_bytes=16 * MiB,
    )  # fmt: skip
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.log
    yield Backend.objects.get(pk=backend.pk)
    gone = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))
    assert gone.state == Job.State.SUCCEEDED, (gone.log, gone.waiting_reason, gone.error)


def test_an_activate_that_recorded_a_device_and_failed_is_not_queued(
    contended: Backend,
) -> None:
    device = contended.state["device"]
    forgot = {k: v for k, v in contended.state.items() if k != "device"}
    Backend.objects.filter(pk=contended.pk).update(state=forgot)

    job = ran(job_for(Backend.objects.get(pk=contended.pk), Job.Kind.ACTIVATE))

    assert job.state == Job.State.FAILED, job.log
    assert job.error.startswith(f"{BUSY}. Not tried again: its rows changed since signing ")
    assert f'(backend.identity.device is "{device}" now but was null' in job.error, job.error
    advice = "see what this try did (its log and the backend's page) before queueing it again."
    assert job.error.endswith(f"so a retry would be refused; {advice}"), job.error
    # The bar's 255 characters say the verdict first.
    said = "not tried again (rows changed since signing): "
    assert job.progress_message == said + BUSY, job.progress_message
    assert job.attempt == 0 and "will try again" not in job.log, job.log
    assert Backend.objects.get(pk=contended.pk).state["device"] == device
    assert attached_loops().get(device) == contended.params["path"]
    assert not kernel.is_active(device)

    # Queued again, signed for the rows as they now stand: only the busy device stops it.
    again = ran(job_for(Backend.objects.get(pk=contended.pk), Job.Kind.ACTIVATE))
    assert again.state == Job.State.QUEUED and BUSY in again.waiting_reason, again.log
    assert "not tried again" not in again.log, again.log
    Job.objects.filter(pk=again.pk).update(state=Job.State.CANCELLED)


def test_an_activate_that_changed_nothing_of_them_is_tried_again(contended: Backend) -> None:
    job = ran(job_for(contended, Job.Kind.ACTIVATE))

    assert job.state == Job.State.QUEUED, job.log
    assert job.attempt == 1 and f"{BUSY} (will try again in 5 s)" in job.log, job.log
    assert BUSY in job.waiting_reason, job.waiting_reason
    Job.objects.filter(pk=job.pk).update(state=Job.State.CANCELLED)


def test_a_label_read_anew_at_the_end_of_the_try_is_a_change_too(contended: Backend) -> None:
    """Relabelled by a person after the job was signed: the try's end writes the label
    its header now holds, which the signature names as it was (review 257/3)."""
    subprocess.run(["swaplabel", "-L", "relabelled", contended.params["path"]], check=True)

    job = ran(job_for(contended, Job.Kind.ACTIVATE))

    assert job.state == Job.State.FAILED, job.log
    assert 'backend.label is "relabelled" now but was ""' in job.error, job.error
    assert Backend.objects.get(pk=contended.pk).label == "relabelled"


def test_a_comparison_that_cannot_be_made_leaves_the_retry_to_its_own_check(
    contended: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The comparison failing (a bug, a row it cannot read) never leaves the job running
    nor fails it: it is queued, and its next try's check says what it finds (257/2, 259/3:
    the reload of the rows failing is the same case)."""

    def fails(job: Job, signed_spec: str) -> str | None:
        raise RuntimeError("the comparison's own bug")

    monkeypatch.setattr(signing, "changed_since_signed", fails)

    job = ran(job_for(contended, Job.Kind.ACTIVATE))

    assert job.state == Job.State.QUEUED and job.attempt == 1, job.log
    assert f"{BUSY} (will try again in 5 s)" in job.log, job.log
    Job.objects.filter(pk=job.pk).update(state=Job.State.CANCELLED)
