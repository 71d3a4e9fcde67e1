"""Holding host A's complete worker.env (its own broker user), an attacker can put a
message on A's own queue and nowhere else: not on host B's queue (whose name begins with
A's), not on the control queue whose tasks run with the owner's credentials, not in the
exchange tables that route them, not in the shared ``unacked`` hash of in-flight messages,
on no pub/sub channel, and it cannot list, read or flush the broker's keys. B's queue holds
what it held."""

from __future__ import annotations

import pytest
from redis.exceptions import NoPermissionError

from .enrolled import Enrolled, enrolled  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGE = b'{"task": "swapadmin.core.run_job", "args": [1]}'


def test_a_publishes_on_its_own_queue_only(enrolled: Enrolled) -> None:  # noqa: F811
    a, b = enrolled.pair()
    admin = enrolled.admin()
    admin.lpush(b.host.queue, b"b's job")
    admin.hset("unacked", "tag", b"someone's message in flight")
    attacker = enrolled.redis(a)

    assert attacker.lpush(a.host.queue, MESSAGE) == 1  # its own: allowed
    assert attacker.lpush(f"{a.host.queue}\x06\x163", MESSAGE) == 1  # its priority steps too

    attempts = {
        "B's queue": lambda: attacker.lpush(b.host.queue, MESSAGE),
        "B's queue, taking": lambda: attacker.brpop([b.host.queue], 1),
        "B's priority step": lambda: attacker.lpush(f"{b.host.queue}\x06\x169", MESSAGE),
        "the control queue": lambda: attacker.lpush("control", MESSAGE),
        "B's routing table": lambda: attacker.sadd(f"_kombu.binding.{b.host.queue}", "x"),
        "the control routing": lambda: attacker.sadd("_kombu.binding.control", "x"),
        "in-flight messages": lambda: attacker.hgetall("unacked"),
        "dropping them": lambda: attacker.delete("unacked"),
        "a channel": lambda: attacker.publish("/0.celeryev/worker.heartbeat", MESSAGE),
        "listing keys": lambda: attacker.keys("*"),
        "flushing": lambda: attacker.flushall(),
        "other users": lambda: attacker.acl_list(),
    }
    allowed = []
    for what, attempt in attempts.items():
        try:
            attempt()
        except NoPermissionError:
            continue
        allowed.append(what)
    assert allowed == []
    assert admin.lrange(b.host.queue, 0, -1) == [b"b's job"]
    assert admin.hgetall("unacked") == {b"tag": b"someone's message in flight"}
    assert admin.llen("control") == 0
