"""Forgetting a host holds its row while it deletes what hangs off it. A change that holds one
of those rows (an edit holding its backend's, a health check its health row) goes on to
insert a row naming the host, which waits for that hold. Had the forget waited for the
change's row in turn, each would wait on the other until PostgreSQL broke the deadlock by
failing one. So the forget never waits: it says the host is busy, removes nothing, and works
once the change is done.

PostgreSQL only: SQLite (`make run`) has one write lock for the whole database."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from swapadmin.core import forget
from swapadmin.core.forget import CannotForget, forget_host
from swapadmin.core.models import AuditEvent, Backend, DynamicSwapPolicy, Host, Job
from swapadmin.core.services import Actor
from swapadmin.enroll.models import HostCredential
from swapadmin.health.models import BackendHealth, CheckResult, HostHealth
from tests.faults.pause import waits_beside_a_hold
from tests.fixtures.marks import row_locks
from tests.fixtures.workers import blocked_by, wait_until
from tests.fixtures.workers import test_database_url as database_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    row_locks,
]


@pytest.fixture
def quiet() -> Host:
    """An offline host with nothing left but a destroyed backend: one that may be forgotten."""
    long_ago = timezone.now() - timezone.timedelta(hours=1)
    host = Host.objects.create(name="quiet", kernel_release="test", last_heartbeat=long_ago)
    old = Backend.objects.create(host=host, kind="file", name="old", params={},
                                 desired_state="absent", observed_state="absent")  # fmt: skip
    BackendHealth.objects.create(backend=old)
    Job.objects.create(host=host, kind="discover", state="succeeded")
    DynamicSwapPolicy.objects.create(host=host)
    HostHealth.objects.create(host=host)
    HostCredential.objects.create(host=host, pg_role="quiet_role", redis_user="quiet_user",
                                  revoked_at=long_ago)  # fmt: skip
    return host


@pytest.mark.parametrize(
    "held",
    [
        "SELECT id FROM core_backend WHERE host_id = %s FOR UPDATE",
        "SELECT id FROM health_backendhealth WHERE backend_id IN "
        "(SELECT id FROM core_backend WHERE host_id = %s) FOR UPDATE",
        "SELECT id FROM core_job WHERE host_id = %s FOR UPDATE",
        "SELECT id FROM core_dynamicswappolicy WHERE host_id = %s FOR UPDATE",
        "SELECT id FROM health_hosthealth WHERE host_id = %s FOR UPDATE",
        "SELECT id FROM enroll_hostcredential WHERE host_id = %s FOR UPDATE",
    ],
    ids=["backend", "backend health", "job", "dynamic policy", "host health", "credential"],
)
def test_a_forget_beside_a_held_row_refuses_without_waiting(
    quiet: Host, alice: Any, held: str
) -> None:
    change = psycopg.connect(database_url(), autocommit=False)
    refused: list[CannotForget] = []

    def forget() -> None:
        try:
            forget_host(quiet, Actor(alice, Job.Via.PAGE))
        except CannotForget as e:
            refused.append(e)

    try:
        assert change.execute(held, (quiet.pk,)).fetchall(), "the test holds no row"
        waited = waits_beside_a_hold(change.info.backend_pid, change.rollback, forget, "forget")
    finally:
        change.close()

    assert waited == [], f"the forget waited for a row another change held: {waited}"
    assert refused and "is being changed right now" in refused[0].message, refused
    assert Host.objects.filter(pk=quiet.pk).exists()
    assert Backend.objects.filter(host=quiet).count() == 1
    [event] = AuditEvent.objects.filter(action="forget-host", object_uuid=quiet.uuid)
    assert event.outcome == "refused" and "being changed" in event.detail["reason"]

    forget_host(quiet, Actor(alice, Job.Via.PAGE))  # the change is done: now it goes
    assert not Host.objects.filter(pk=quiet.pk).exists()


def test_a_backend_asked_back_before_the_hold_is_seen_under_it(
    quiet: Host, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first answer is read before the rows are held: a change committed between it and
    the hold (its destroyed backend asked back, by another connection) must stop the forget,
    or the backend, no longer destroyed, would be deleted with the host."""
    real = forget.why_not
    answers: list[str | None] = []

    def answer_then_a_change_commits(host: Host) -> str | None:
        answer = real(host)
        if not answers:
            with psycopg.connect(database_url(), autocommit=True) as other:
                other.execute(
                    "UPDATE core_backend SET desired_state = 'present' WHERE host_id = %s",
                    (quiet.pk,),
                )
        answers.append(answer)
        return answer

    monkeypatch.setattr(forget, "why_not", answer_then_a_change_commits)
    with pytest.raises(CannotForget, match="still has 1 backend"):
        forget_host(quiet, Actor(alice, Job.Via.PAGE))

    assert answers[0] is None and len(answers) == 2, answers
    assert Backend.objects.get(host=quiet).desired_state == "present"


def test_a_forget_failed_by_a_deadlock_says_the_host_is_busy(quiet: Host, alice: Any) -> None:
    """A writer that sets a job's check results' job to NULL, then deletes the job (as
    retention's job prune did before it locked the job first: see
    test_retention_passes_over_a_job_a_forget_holds): a forget that holds the job between
    those steps waits for the results the writer holds, while the writer waits for the job,
    and PostgreSQL fails one side (40P01). Whichever it fails, the forget ends in an answer,
    never a raw database error: gone, or busy with nothing removed. (The side that first
    waits a second, deadlock_timeout, is failed: here the forget, unless the writer's delete
    took longer than that to start.)"""
    job = Job.objects.get(host=quiet)
    CheckResult.objects.create(host=quiet, job=job, status="ok")
    prune = psycopg.connect(database_url(), autocommit=False)
    answers: list[object] = []
    forget_pid: list[int] = []

    def forget() -> None:
        try:
            forget_pid.append(connection.cursor().connection.info.backend_pid)
            forget_host(quiet, Actor(alice, Job.Via.PAGE))
            answers.append("forgotten")
        except CannotForget as e:
            answers.append(e.message)
        except Exception as e:  # what the test exists to rule out
            answers.append(e)
        finally:
            connection.close()

    try:
        prune.execute("UPDATE health_checkresult SET job_id = NULL WHERE job_id = %s", (job.pk,))
        forgetting = threading.Thread(target=forget)
        forgetting.start()
        wait_until(
            lambda: forget_pid and blocked_by(forget_pid[0], prune.info.backend_pid),
            message="the forget waiting for the prune's results",
        )
        deleting = threading.Thread(
            target=_quietly, args=(prune, "DELETE FROM core_job WHERE id = %s", job.pk)
        )
        deleting.start()
        forgetting.join(timeout=60)
        deleting.join(timeout=60)
    finally:
        prune.close()

    assert len(answers) == 1 and isinstance(answers[0], str), answers
    if answers[0] == "forgotten":
        assert not Host.objects.filter(pk=quiet.pk).exists()
    else:
        assert "is being changed right now" in answers[0], answers
        assert Host.objects.filter(pk=quiet.pk).exists()
        assert Backend.objects.filter(host=quiet).count() == 1


def _quietly(conn: psycopg.Connection[Any], sql: str, *args: object) -> None:
    """Run ``sql``; a deadlock it loses is one of the two outcomes the test allows."""
    try:
        conn.execute(sql, args)
        conn.rollback()  # the prune's work is not the test's: nothing of it is kept
    except psycopg.Error:
        conn.rollback()
