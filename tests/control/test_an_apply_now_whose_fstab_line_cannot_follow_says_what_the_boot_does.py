"""An apply-now edit refused once its store proved to be this backend's keeps the fstab
line in step with the row, which the edit changed before its job ran. When that write fails
too, the error says what the boot does now: with a line it could not change, the old
options; with a line it could not add, no activation; with a line it could not remove, an
activation still. Before, it said "the boot's activation uses the old options" whether the
line was being added or removed, and lost the refusal's field (review 233/3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import kernel
from swapadmin.core.models import Backend, Job
from tests.control.test_a_loop_device_over_the_file_before_the_job_leaves_the_area_on import (
    active_file,  # noqa: F401 (a fixture)
    kept_in_fstab,  # noqa: F401 (a fixture)
)
from tests.control.test_run_job_directly import job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

CASES = {
    # persist as the edit leaves it (None: not part of the edit) -> what the words say
    "changed": (None, "Its fstab line was not changed either, so the boot activates it with "
                "its old options: cannot read"),
    "added": (True, "Its fstab line was not added either, so the boot does not activate it: "
              "cannot read"),
    "removed": (False, "Its fstab line was not removed either, so the boot still activates "
                "it: cannot read"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_the_words_say_what_the_boot_does(
    active_file: Backend,  # noqa: F811
    settings,
    tmp_path: Path,
    case: str,
) -> None:
    persist, said = CASES[case]
    path = active_file.params["path"]
    # As the edit records it, before its job runs (core/edits.py).
    Backend.objects.filter(pk=active_file.pk).update(priority=9)
    active_file.refresh_from_db()
    params = {"priority": 9, "apply": "now", "options": ["priority"]}
    if persist is not None:
        params["persist"] = persist
    # A directory where the fstab should be: every read and write of it fails.
    (tmp_path / "not-a-file").mkdir()
    fstab_was = settings.SWAPADMIN_FSTAB
    settings.SWAPADMIN_FSTAB = str(tmp_path / "not-a-file")
    try:
        with attached(path) as dev:
            job = run(job_for(active_file, Job.Kind.EDIT, **params))
        assert job.state == Job.State.FAILED, job.log
        assert dev in job.error, job.error
        assert "This job did not swap the area off. Its priority 9 is recorded" in job.error
        assert said in job.error, job.error
        assert kernel.find_area(path) is not None, job.log
    finally:
        settings.SWAPADMIN_FSTAB = fstab_was
