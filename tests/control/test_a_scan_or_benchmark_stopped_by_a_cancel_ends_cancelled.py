"""A scan or a benchmark that a cancel stops before its end raises Cancelled in its handler,
at the point it stopped, and so ends cancelled: the runner no longer turns a handler that
returned into a cancelled job (review 214/2), so none may return a partial run. The header
is left as it was, and the backend is free for its next job.

The cancel is asked as the page loop starts, and the runner asks for it at every call of
the loop's ``cancel``, not at its half-second pace: the loop's first look sees it."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import pageio
from swapadmin.core import context
from swapadmin.core.models import Job
from tests.control.test_a_cancel_asked_after_the_work_is_done_comes_too_late import (
    ask_cancel,
    destroyed,
    provisioned,
)
from tests.control.test_run_job_directly import job_for, run
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


@pytest.mark.parametrize(
    ("kind", "params", "said"),
    [
        (Job.Kind.SCAN, {"patterns": 4}, "scan of {path} cancelled at slot"),
        (Job.Kind.BENCHMARK, {"seconds": 60}, "benchmark of {path} cancelled"),
    ],
)
def test_a_page_loop_stopped_by_a_cancel_ends_cancelled(
    kind: str, params: dict, said: str, host_row, swap_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    path = swap_root / "paged"
    backend = provisioned(host_row, path)
    job = job_for(backend, kind, **params)
    loop = getattr(pageio, kind)

    def cancel_asked_as_it_starts(*args, **kwargs):  # type: ignore[no-untyped-def]
        ask_cancel(job.pk)
        return loop(*args, **kwargs)

    try:
        with monkeypatch.context() as m:
            m.setattr(context, "THROTTLE_SECONDS", 0.0)
            m.setattr(pageio, kind, cancel_asked_as_it_starts)
            job = run(job)
        assert job.state == Job.State.CANCELLED, job.log
        assert said.format(path=path) in job.log, job.log
        assert "cancelled at the user's request" in job.log and "too late" not in job.log
        assert job.progress < 100
        backend.refresh_from_db()
        assert backend.header["label"] == "before"
        on = run(job_for(backend, Job.Kind.ACTIVATE))
        assert on.state == Job.State.SUCCEEDED, on.log
    finally:
        destroyed(backend)
