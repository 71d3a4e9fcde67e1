"""A job on a row whose state is no mapping (another machine's write, signed as it stands)
fails in words that name the row's fault, as the plugin's build says it, not as an
internal error of the worker: the signature's part of the state (``signing.signed_state``,
which faa5e26 read before the build) takes such a state as naming nothing (257/1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


@pytest.mark.parametrize("state", [[1, 2], 5, "x"], ids=["a list", "a number", "a string"])
def test_the_job_fails_naming_the_rows_state(host_row, swap_root: Path, state: object) -> None:
    backend = Backend.objects.create(
        host=host_row, kind="file", name="odd", params={"path": str(swap_root / "odd")},
        size_bytes=16 * MiB,
    )  # fmt: skip
    Backend.objects.filter(pk=backend.pk).update(state=state)

    job = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.PROVISION))

    assert job.state == Job.State.FAILED, job.log
    assert job.error.startswith("the row's state is not a mapping"), job.error
    assert not (swap_root / "odd").exists()
