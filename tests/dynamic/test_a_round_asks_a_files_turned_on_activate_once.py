"""A round asks for each file's latest activate that succeeded once, and the follow-up, the
file's idle time and its failed activates all read that answer: each asked it again, three
queries per file per round."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from swapadmin.core import dynamic
from swapadmin.core.models import Backend, Job, Sample

from .conftest import file_after_step, small_policy


def _asks_succeeded_activates(sql: str) -> bool:
    return "'activate'" in sql and "'succeeded'" in sql and sql.lstrip().startswith("SELECT")


@pytest.mark.django_db
def test_one_query_per_file_for_its_activate_that_succeeded(host_row):
    policy = small_policy(host_row, cooldown_seconds=60)
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, timedelta(hours=1), observed_state=Backend.Observed.READY
    )
    # Its latest job an activate that failed: the follow-up asks whether one ever succeeded
    # (it did: the file is kept, not destroyed), and the file is there, so its failed
    # activates are counted.
    Job.objects.create(
        kind=Job.Kind.ACTIVATE, host=host_row, backend=dyn1, backend_name="dyn-1",
        via=Job.Via.SYSTEM, state=Job.State.FAILED, error="swapon: too many swap areas",
        finished_at=timezone.now() - timedelta(seconds=10),
    )  # fmt: skip
    Sample.objects.create(host=host_row, at=timezone.now(), swap_free=0)

    with CaptureQueriesContext(connection) as queries:
        dynamic.run_policy(policy)

    asked = [q["sql"] for q in queries.captured_queries if _asks_succeeded_activates(q["sql"])]
    assert len(asked) == 1, asked
    assert not Job.objects.filter(backend=dyn1, kind=Job.Kind.DESTROY).exists()


@pytest.mark.django_db
def test_the_answer_is_one_query_with_nothing_loaded_after(host_row):
    """Reading the job it answers loads no deferred field with a query of its own (review
    198/2: ``backend_id`` was left out, one more query per file)."""
    policy = small_policy(host_row, cooldown_seconds=60)
    dyn1 = file_after_step(
        policy, Job.Kind.ACTIVATE, timedelta(hours=1), observed_state=Backend.Observed.READY
    )
    with CaptureQueriesContext(connection) as queries:
        on = dynamic._latest_on(dyn1)
    assert on is not None and on.finished_at is not None
    assert len(queries.captured_queries) == 1, [q["sql"] for q in queries.captured_queries]
