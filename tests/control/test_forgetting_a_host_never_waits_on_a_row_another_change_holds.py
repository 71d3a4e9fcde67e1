"""Forgetting a host holds its row while it deletes what hangs off it. A change that holds one
of those rows (an edit holding its backend's, a health check its health row) goes on to
insert a row naming the host, which waits for that hold. Had the forget waited for the
change's row in turn, each would wait on the other until PostgreSQL broke the deadlock by
failing one. So the forget never waits: it says the host is busy, removes nothing, and works
once the change is done.

PostgreSQL only: SQLite (`make run`) has one write lock for the whole database."""

from __future__ import annotations

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
from swapadmin.health.models import BackendHealth, HostHealth
from tests.faults.pause import waits_beside_a_hold
from tests.fixtures.workers import test_database_url as database_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one write lock"),
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
