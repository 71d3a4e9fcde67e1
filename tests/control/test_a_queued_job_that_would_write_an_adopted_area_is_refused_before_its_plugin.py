"""A job that would write the bytes of an area swapadmin adopted (did not make) is refused by
the worker by the action table's ``adopted_writes``, whichever handler would run it: before
its plugin is built, and before the refusal of a row never provisioned, whose way out would
not help. The jobs are put straight into the database, as a row written past the request's
check would be, and signed as they stand."""

from __future__ import annotations

import os

import pytest
from django.utils import timezone

from swapadmin.core import actions
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import adopted_refusal
from tests.control.test_every_backend_action_is_one_entry_of_one_table import PINNED
from tests.control.test_run_job_directly import backend_on, job_for, run

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]

MiB = 1 << 20

#: Said apart from the table (the table test's pins): what would write an adopted area.
WRITES_ADOPTED = {name for name, pinned in PINNED.items() if pinned[5]}
#: A job of each, as a user would have asked it (a provision forced too).
JOBS = [
    ("provision", {}),
    ("provision", {"force": True}),
    ("scan", {"patterns": 1}),
    ("benchmark", {"seconds": 1}),
    ("resize", {"size_bytes": 32 * MiB}),
]


def test_the_table_names_what_would_write_an_adopted_area() -> None:
    assert {a.name for a in actions.BACKEND_ACTIONS if a.adopted_writes} == WRITES_ADOPTED
    assert {kind for kind, _ in JOBS} == WRITES_ADOPTED


@pytest.mark.parametrize("proven", [True, False], ids=["provisioned", "never-provisioned"])
@pytest.mark.parametrize(("kind", "params"), JOBS, ids=lambda v: str(v))
def test_the_worker_refuses_it_and_writes_nothing(host_row, swap_root, kind, params, proven):
    path = swap_root / "theirs"
    content = os.urandom(16 * MiB)
    path.write_bytes(content)
    backend = backend_on(
        host_row, path, adopted=True, provisioned_at=timezone.now() if proven else None
    )
    job = run(job_for(backend, kind, **params))
    assert job.state == Job.State.FAILED
    assert job.error == adopted_refusal(backend, actions.BY_NAME[kind]), job.error
    assert path.read_bytes() == content
    assert os.listxattr(path) == []  # not even swapadmin's mark
    assert os.path.getsize(path) == 16 * MiB


@pytest.mark.parametrize(("kind", "params"), JOBS, ids=lambda v: str(v))
def test_it_is_refused_before_the_plugin_is_built(host_row, swap_root, kind, params):
    # A kind not installed on this worker: building its plugin would fail, with other words.
    backend = Backend.objects.create(
        host=host_row, kind="not-installed-here", name="theirs", adopted=True,
        params={"path": str(swap_root / "theirs")}, provisioned_at=timezone.now(),
    )  # fmt: skip
    job = run(job_for(backend, kind, **params))
    assert job.state == Job.State.FAILED
    assert job.error == adopted_refusal(backend, actions.BY_NAME[kind]), job.error
