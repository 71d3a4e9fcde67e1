"""A burn-in takes a cancel while its hog runs: the hog is killed and reaped, its cgroup
removed, and the job ends cancelled at once. Before, the hog ran out its time (a burn-in
may be asked for a day) and only then did the runner's closing check see the cancel; now
that a handler that returned is done (review 214/2), it would even have ended as done.

The cancel is asked as the hog starts, and the runner asks for it at every sample, not at
its half-second pace: the first sample sees it. The burn-in is asked for ten minutes: the
test ends long before, or its time limit fails it."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import burnin, cgroups
from swapadmin.core import context
from swapadmin.core.models import Backend, Job
from tests.control.test_a_cancel_asked_after_the_work_is_done_comes_too_late import (
    ask_cancel,
    destroyed,
)
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.host import active_swaps, needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


def test_a_burn_in_cancelled_while_its_hog_runs_stops_it(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = swap_root / "burnt"
    backend = Backend.objects.create(
        host=host_row, kind="file", name=path.name, params={"path": str(path)},
        size_bytes=64 * MiB,
    )  # fmt: skip
    try:
        made = run(job_for(backend, Job.Kind.PROVISION, activate=True))
        assert made.state == Job.State.SUCCEEDED, made.log
        job = job_for(
            Backend.objects.get(pk=backend.pk), Job.Kind.BURN_IN,
            seconds=600, memory_limit_bytes=16 * MiB, hog_bytes=40 * MiB,
        )  # fmt: skip
        watch = burnin._watch
        hogs: list[str] = []

        def cancel_asked_as_the_hog_runs(child, cg, *args, **kwargs):  # type: ignore[no-untyped-def]
            hogs.append(str(cg))
            ask_cancel(job.pk)
            return watch(child, cg, *args, **kwargs)

        with monkeypatch.context() as m:
            m.setattr(context, "THROTTLE_SECONDS", 0.0)
            m.setattr(burnin, "_watch", cancel_asked_as_the_hog_runs)
            job = run(job)
        assert job.state == Job.State.CANCELLED, job.log
        assert f"the burn-in of {path} was stopped after " in job.log, job.log
        assert "s of 600: the hog was killed" in job.log, job.log
        assert "cancelled at the user's request" in job.log and "too late" not in job.log
        # The hog's cgroup is gone (it is removed only once no process is left in it), and
        # the area is still on, the backend free for its next job.
        assert hogs and not Path(hogs[0]).exists(), hogs
        assert not list(cgroups.find_hierarchy().parent.glob(burnin.CGROUP_PREFIX + "*"))
        assert str(path) in active_swaps()
        off = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DEACTIVATE))
        assert off.state == Job.State.SUCCEEDED, off.log
    finally:
        destroyed(backend)
