"""A cancel asked while a try runs, the try then failing in a way worth a later try: the
job ends as cancelled, not queued again with the cancel asked, where it would wait for
ever if its message were lost (``resend_lost`` leaves such a job alone: 261/1)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models.functions import Now

from backends import kernel
from backends.errors import BusyError
from swapadmin.core.models import Backend, Job
from tests.control.test_a_job_that_changed_its_signed_record_is_not_tried_again import (
    BUSY,
    Contended,
    contended,
)
from tests.control.test_run_job_directly import job_for, ran
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

__all__ = ["contended"]  # the fixture this module uses


def test_the_job_ends_cancelled_with_the_failure_said(
    contended: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cancelled_then_busy(self: Contended, store: Any, **kw: Any) -> None:
        Job.objects.filter(state=Job.State.RUNNING, backend=contended).update(
            cancel_requested=True, cancel_requested_at=Now()
        )
        raise BusyError(BUSY)

    monkeypatch.setattr(Contended, "swap_on", cancelled_then_busy)

    job = ran(job_for(contended, Job.Kind.ACTIVATE))

    assert job.state == Job.State.CANCELLED and job.finished_at is not None, job.log
    assert job.progress_message == f"cancelled at the user's request after its try failed: {BUSY}"
    assert job.attempt == 0 and job.error == "" and job.waiting_reason == ""
    assert f"failed: {BUSY}; not tried again, as a cancel was asked meanwhile" in job.log
    assert "will try again" not in job.log, job.log
    assert not kernel.is_active(contended.state["device"])
