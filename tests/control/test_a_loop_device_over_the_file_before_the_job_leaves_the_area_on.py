"""A loop device attached to an active file area's file before a job that swaps the area off
to change it (an apply-now edit, a resize, a destroy) is another name for its pages: the job
is refused with the area still on, and its words say so, as they do for one attached while
the job waited (``test_an_area_another_name_reaches_is_refused_while_still_on``). Before,
the proof that opened the area refused it in the file kind's words alone, which never said
whether the area was left on; and an apply-now left the fstab line behind the row, though
the store had proved to be this backend's (review 233/1)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import fstab, kernel
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import attached_loops, needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

#: Each job as it is asked for; what the edit records on the row before its job runs
#: (core/edits.py); what the words say is true then; and the fstab line's options after.
JOBS = {
    "resize": (Job.Kind.RESIZE, {"size_bytes": 12 * MiB}, {}, "Nothing was changed.", "pri=5"),
    "apply-now": (
        Job.Kind.EDIT,
        {"priority": 9, "apply": "now", "options": ["priority"]},
        {"priority": 9},
        "Its priority 9 is recorded and used at its next activation.",
        "pri=9",
    ),
    "apply-now discard": (
        # The params carry both options; the words name the one the edit changed (233/2).
        Job.Kind.EDIT,
        {"priority": 5, "discard": "pages", "apply": "now", "options": ["discard"]},
        {"discard": "pages"},
        "Its discard setting (pages) is recorded and used at its next activation.",
        "discard=pages,pri=5",
    ),
    "destroy": (Job.Kind.DESTROY, {}, {}, "Nothing was changed.", "pri=5"),
}


@pytest.fixture
def kept_in_fstab(settings, tmp_path: Path) -> Path:
    settings.SWAPADMIN_FSTAB = tmp_path / "fstab"  # a Path, as settings.py makes it
    return tmp_path / "fstab"


@pytest.fixture
def active_file(host_row, swap_root: Path, kept_in_fstab: Path) -> Iterator[Backend]:
    """A 16 MiB file area at priority 5, on and kept in fstab; destroyed after the test."""
    path = swap_root / "area"
    backend = Backend.objects.create(
        host=host_row, kind="file", name="area", params={"path": str(path)},
        size_bytes=16 * MiB, priority=5, persist=True,
    )  # fmt: skip
    made = run(job_for(backend, Job.Kind.PROVISION, activate=True))
    assert made.state == Job.State.SUCCEEDED, made.error
    backend.refresh_from_db()
    yield backend
    left = Backend.objects.filter(pk=backend.pk).first()
    if left is not None:
        gone = run(job_for(left, Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error


@pytest.mark.parametrize("name", JOBS)
def test_the_job_is_refused_with_the_area_still_on(
    active_file: Backend, kept_in_fstab: Path, name: str
) -> None:
    kind, params, recorded, then, options = JOBS[name]
    path = active_file.params["path"]
    Backend.objects.filter(pk=active_file.pk).update(**recorded)
    active_file.refresh_from_db()
    with attached(path) as dev:
        job = run(job_for(active_file, kind, **params))
        assert job.state == Job.State.FAILED, job.log
        assert dev in job.error, job.error
        assert f"This job did not swap the area off. {then}" in job.error, job.error
        area = kernel.find_area(path)
        assert area is not None and area.priority == 5, job.log  # never swapped off
    active_file.refresh_from_db()
    assert active_file.size_bytes == 16 * MiB and Path(path).stat().st_size == 16 * MiB
    (entry,) = [e for e in fstab.entries(kept_in_fstab) if e.spec == path]
    # The row's options are the boot's: the line follows the edit's, which the store
    # proved to be this backend's before the refusal.
    assert set(options.split(",")) <= set(entry.options), entry


def test_a_deactivate_swaps_it_off_all_the_same(active_file: Backend) -> None:
    """A deactivate writes nothing: the area, proven this backend's, is swapped off, the
    loop device left as it is. Before, the kind's look for other names refused it, in
    words that spoke of a write (235/5)."""
    path = active_file.params["path"]
    with attached(path) as dev:
        job = run(job_for(active_file, Job.Kind.DEACTIVATE))
        assert job.state == Job.State.SUCCEEDED, job.log
        assert kernel.find_area(path) is None
        assert attached_loops().get(dev) == os.path.realpath(path)  # left as it is


def test_the_dynamic_policys_swapoff_before_its_destroy_is_refused(
    active_file: Backend,
) -> None:
    """The dynamic policy removes an active file in two jobs, a swapoff then a destroy. Its
    swapoff is asked as one made to change the store: refused with the area left on, as
    the destroy would be refused after it. Before, the swapoff went through and the
    destroy was refused: the file off, counted, and never used (236/1)."""
    path = active_file.params["path"]
    with attached(path) as dev:
        job = run(job_for(active_file, Job.Kind.DEACTIVATE, force=False, to_change=True))
        assert job.state == Job.State.FAILED, job.log
        assert f"{path} is attached to {dev}" in job.error, job.error
        said = "This job did not swap the area off. It was asked only so that its store could"
        assert said in job.error and job.error.endswith("Nothing was changed."), job.error
        area = kernel.find_area(path)
        assert area is not None and area.priority == 5, job.log
