"""A cancel locks the job's row, reads it, and answers from it (265/1, 267/6): an end the
runner is writing when the cancel comes is waited for, and the cancel then says the job
had ended, asking nothing of it. Read without the lock, the cancel saw the job running,
flagged the row once the end let go of it, and answered "asked to stop" of a job that
would never stop again."""

from __future__ import annotations

import psycopg
import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from swapadmin.core import services
from swapadmin.core.models import AuditEvent, Host, Job
from tests.faults.pause import in_another_thread, waiting_for
from tests.fixtures.marks import row_locks
from tests.fixtures.workers import test_database_url as database_url
from tests.fixtures.workers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@row_locks
def test_a_cancel_waits_for_an_end_being_written_and_says_the_job_ended(
    host_row: Host, alice: User
) -> None:
    job = Job.objects.create(
        kind=Job.Kind.SCAN, host=host_row, state=Job.State.RUNNING, started_at=timezone.now()
    )
    # The runner's end, written on a connection of its own and not yet committed.
    end = psycopg.connect(database_url(), autocommit=False)
    cancel = None
    try:
        end.execute(
            "UPDATE core_job SET state = 'succeeded', finished_at = now() WHERE id = %s",
            (job.pk,),
        )
        answers: list[services.Cancel] = []
        cancel = in_another_thread(
            lambda: answers.append(
                services.cancel_job(Job.objects.get(pk=job.pk), services.Actor(alice, "api"))
            )
        )
        pid = end.info.backend_pid
        wait_until(lambda: not cancel.is_alive() or waiting_for(pid), 30, "the cancel to come")
        assert cancel.is_alive(), f"the cancel answered {answers} while the end held the row"
        # Its lock, not its write, waits: a plain SELECT never waits for a row lock.
        waits = waiting_for(pid)
        assert waits and waits[0].lstrip().startswith("SELECT"), waits
        end.commit()
    finally:
        end.close()  # a rollback if not committed: the cancel then goes on, and ends
        if cancel is not None:
            cancel.join(30)

    assert cancel is not None and not cancel.is_alive(), "the cancel still waits"
    assert answers == [services.Cancel.REFUSED]
    row = Job.objects.get(pk=job.pk)
    assert (row.state, row.cancel_requested) == (Job.State.SUCCEEDED, False)
    event = AuditEvent.objects.get(action="cancel")
    assert (event.outcome, event.detail["state"]) == ("refused", "succeeded")
