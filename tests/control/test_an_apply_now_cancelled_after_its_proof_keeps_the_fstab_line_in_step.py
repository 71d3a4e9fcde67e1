"""An apply-now edit cancelled once its store proved to be this backend's: the area stays
on at its old priority, and the fstab line follows the row, which the edit changed before
its job ran (the same edit sent again changes nothing, so no later job would). Before
review 234/2 the first step, a cancel point, came before the mark that has the line
follow: cancelled there, the boot kept the old priority while the row said the new."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import fstab, kernel
from swapadmin.core import handlers
from swapadmin.core.models import Backend, Job
from tests.control.test_a_loop_device_over_the_file_before_the_job_leaves_the_area_on import (
    active_file,  # noqa: F401 (a fixture)
    kept_in_fstab,  # noqa: F401 (a fixture)
)
from tests.control.test_run_job_directly import job_for, run
from tests.fixtures.by_hand import after
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


def test_the_line_says_the_rows_priority(
    active_file: Backend,  # noqa: F811
    kept_in_fstab: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = active_file.params["path"]
    # As the edit records it, before its job runs (core/edits.py).
    Backend.objects.filter(pk=active_file.pk).update(priority=9)
    active_file.refresh_from_db()
    job = job_for(active_file, Job.Kind.EDIT, priority=9, apply="now", options=["priority"])

    def cancel() -> None:  # as the page's Cancel button asks it
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)

    # Asked just before the proof: the job's first cancel point is then its first step.
    monkeypatch.setattr(
        handlers, "_proven_to_apply_now", after(cancel, handlers._proven_to_apply_now)
    )
    job = run(job)
    assert job.state == Job.State.CANCELLED, job.log
    area = kernel.find_area(path)
    assert area is not None and area.priority == 5, job.log  # never swapped off
    (entry,) = [e for e in fstab.entries(kept_in_fstab) if e.spec == path]
    assert "pri=9" in entry.options, entry
