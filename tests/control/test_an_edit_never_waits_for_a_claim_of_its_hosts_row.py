"""A job's claim of its store (``plugins.record_store``) holds its machine's host rows, then
writes its backend's row; an edit of that backend (``edits.edit_backend``) holds the
backend's row while it decides, and inserts a job that names the host. Neither of the edit's
steps may wait for the claim's hold of the host's row, or the two wait on each other (a
deadlock PostgreSQL breaks by failing one of them). So the edit locks the backend's row only,
and the claim holds the host's row FOR NO KEY UPDATE, which a foreign key's check (a job's
row naming the host, at commit) does not wait for.

PostgreSQL only: SQLite (`make run`) has one write lock for the whole database."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backends.store import Store
from swapadmin.core import edits
from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.plugins import claim_store
from swapadmin.core.services import Actor
from tests.faults.pause import waits_beside_a_hold
from tests.fixtures.marks import row_locks
from tests.fixtures.workers import test_database_url as database_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    row_locks,
]


def edit_beside_a_claim(backend: Backend, actor: Actor, data: dict[str, Any]) -> list[str]:
    """Edit ``backend`` while another connection holds its host's row as a claim does: what
    waited on that hold, [] when the edit ended without waiting."""
    claim = psycopg.connect(database_url(), autocommit=False)
    try:
        claim.execute(
            "SELECT id FROM core_host WHERE id = %s FOR NO KEY UPDATE", (backend.host_id,)
        )
        return waits_beside_a_hold(
            claim.info.backend_pid,
            claim.rollback,
            lambda: edits.edit_backend(backend, actor, data),
            "edit",
        )
    finally:
        claim.close()


@pytest.fixture
def backend() -> Backend:
    host = Host.objects.create(name="claimed", kernel_release="test")
    return Backend.objects.create(host=host, kind="file", name="b0", persist=False,
                                  params={"path": "/nowhere/c/b0"}, store_key="file:1:2",
                                  provisioned_at=timezone.now(),
                                  observed_state=Backend.Observed.READY)  # fmt: skip


def test_an_edit_that_is_only_recorded_does_not_wait(backend: Backend, alice: Any) -> None:
    actor = Actor(alice, Job.Via.API)
    data = {"priority": 7, "apply": edits.APPLY_LATER}
    assert edit_beside_a_claim(backend, actor, data) == []
    backend.refresh_from_db()
    assert backend.priority == 7


def test_an_edit_that_queues_a_job_does_not_wait(backend: Backend, alice: Any) -> None:
    actor = Actor(alice, Job.Via.API)
    assert edit_beside_a_claim(backend, actor, {"label": "renamed"}) == []
    job = Job.objects.get(backend=backend)
    assert job.params["label"] == "renamed"


def test_a_claim_holds_its_host_row_as_above(backend: Backend) -> None:
    """The hold the tests above put beside the edit is the claim's own."""
    with CaptureQueriesContext(connection) as queries:
        claim_store(backend, Store(-1, True, "/nowhere/c/b0", "file:1:3"))
    holds = [q["sql"] for q in queries if '"core_host"' in q["sql"] and " FOR " in q["sql"]]
    assert holds and all(sql.endswith("FOR NO KEY UPDATE") for sql in holds), holds
