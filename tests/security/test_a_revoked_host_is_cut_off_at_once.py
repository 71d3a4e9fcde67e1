"""Revoking host A (``manage.py revoke-host``) cuts it off at once: its session open at
that moment is ended (its next statement fails), its next database connection is refused,
its open broker connection is closed and its next one refused; the revocation is audited.
Host B, enrolled the same way, goes on as before: the revocation is A's alone."""

from __future__ import annotations

import psycopg
import pytest
import redis
from django.core.management import call_command

from swapadmin.core.models import AuditEvent
from swapadmin.enroll.models import HostCredential

from .enrolled import Enrolled, enrolled  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_its_sessions_end_and_its_next_connections_are_refused(
    enrolled: Enrolled,  # noqa: F811
    settings,
) -> None:
    settings.REDIS_URL = enrolled.broker.url  # the command speaks to the test's own broker
    a, b = enrolled.pair()
    with enrolled.pg(a) as a_db, enrolled.pg(b) as b_db:
        assert a_db.execute("SELECT count(*) FROM core_host").fetchone() == (1,)
        a_broker = enrolled.redis(a)
        assert a_broker.ping()

        call_command("revoke-host", a.host.name)

        with pytest.raises(psycopg.OperationalError):
            a_db.execute("SELECT count(*) FROM core_host")
        assert b_db.execute("SELECT count(*) FROM core_host").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        psycopg.connect(a.env["DATABASE_URL"], connect_timeout=5)
    users = [c["user"] for c in enrolled.admin().client_list()]
    assert a.credential.redis_user not in users  # its open connection was closed
    with pytest.raises(redis.ConnectionError):
        a_broker.ping()
    with pytest.raises(redis.AuthenticationError):
        enrolled.redis(a).ping()
    assert enrolled.redis(b).lpush(b.host.queue, b"still served") == 1

    credential = HostCredential.objects.get(host=a.host)
    assert credential.revoked_at is not None
    assert AuditEvent.objects.filter(action="revoke", host=a.host, outcome="ok").exists()
