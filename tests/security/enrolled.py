"""Enrolled hosts for the tests that hold a host's worker.env: hosts A and B enrolled in the
test database (their own PostgreSQL roles) and in a Redis of the test's own (their own ACL
users; the shared Redis is never changed). The roles are cluster-wide, so they are dropped
when the test ends, whatever it did.

    def test_it(enrolled):
        a, b = enrolled.pair()            # Enrolment objects; a.env is A's worker.env
        with enrolled.pg(a) as db: ...    # psycopg, logged in as A's role
        enrolled.redis(a).lpush(...)      # redis-py, as A's ACL user
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from django.db import connection

from swapadmin.core.services import Actor
from swapadmin.enroll import services
from swapadmin.enroll.rls import hosts_group
from swapadmin.enroll.services import Enrolment
from tests.faults.own_servers import OwnRedis, own_redis


@dataclass
class Enrolled:
    #: A Redis of the test's own (``admin()`` speaks to it as its default user).
    broker: OwnRedis
    roles: list[str] = field(default_factory=list)

    def host(self, name: str | None = None, *, broker_url: str | None = None) -> Enrolment:
        name = name or f"enr-{uuid.uuid4().hex[:8]}"
        url = broker_url or self.broker.url
        enrolment = services.enroll(name, Actor.system(), broker_url=url)
        self.roles.append(enrolment.credential.pg_role)
        return enrolment

    def pair(self) -> tuple[Enrolment, Enrolment]:
        a = self.host()
        # B's name begins with A's: a key pattern for A must not reach B's queue by prefix.
        return a, self.host(f"{a.host.name}b")

    @contextlib.contextmanager
    def pg(self, who: Enrolment) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(who.env["DATABASE_URL"], autocommit=True, connect_timeout=5) as c:
            yield c

    def admin(self) -> redis.Redis:
        return redis.Redis.from_url(self.broker.url, socket_timeout=5)

    def redis(self, who: Enrolment) -> redis.Redis:
        return redis.Redis.from_url(who.env["REDIS_URL"], socket_timeout=5)


def drop_roles(roles: list[str]) -> None:
    with connection.cursor() as cursor:
        for role in roles:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                continue
            q = connection.ops.quote_name(role)
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = %s",
                [role],
            )
            cursor.execute(f"DROP OWNED BY {q}")
            cursor.execute(f"DROP ROLE {q}")


@pytest.fixture
def enrolled(transactional_db: None, scratch: Path) -> Iterator[Enrolled]:
    with own_redis(scratch) as broker:
        e = Enrolled(broker)
        try:
            yield e
        finally:
            # The hosts' group last: enrolment makes it when it is missing.
            drop_roles([*e.roles, hosts_group(connection.settings_dict["NAME"])])
