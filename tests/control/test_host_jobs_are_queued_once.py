"""Two discover requests at the same moment queue one job; the other is told it is busy."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from swapadmin.core import services
from swapadmin.core.models import AuditEvent, Host, Job
from swapadmin.core.services import Actor
from tests.fixtures.marks import row_locks

pytestmark = [pytest.mark.django_db(transaction=True)]

ROUNDS = 5


def race(host: Host, actor: Actor) -> list[str]:
    """Two threads, each with its own connection, ask at the same moment."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def ask() -> None:
        try:
            barrier.wait()
            services.request_host_job(host, Job.Kind.DISCOVER, actor)
            outcomes.append("queued")
        except services.Conflict:
            outcomes.append("busy")
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)


@row_locks
def test_concurrent_requests_queue_one_job(host_row, alice) -> None:
    for _ in range(ROUNDS):
        Job.objects.filter(host=host_row).delete()
        assert race(host_row, Actor(alice, Job.Via.API)) == ["busy", "queued"]
        assert Job.objects.filter(host=host_row, kind=Job.Kind.DISCOVER).count() == 1
    assert AuditEvent.objects.filter(action="discover", outcome="refused").count() == ROUNDS
