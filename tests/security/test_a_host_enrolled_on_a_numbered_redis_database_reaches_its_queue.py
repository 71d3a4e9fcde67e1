"""A broker URL may name a Redis database number (``redis://broker:6379/2``). redis-py and
kombu select it on connect, so a host's broker user must be allowed SELECT: without it
every enrolled worker of such a broker was refused before its first command. Its key
patterns hold in every database: it reaches its own queue, there, and nothing else."""

from __future__ import annotations

import pytest
import redis
from redis.exceptions import NoPermissionError

from .enrolled import Enrolled, enrolled  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_its_worker_connects_and_uses_its_queue_in_that_database(
    enrolled: Enrolled,  # noqa: F811
) -> None:
    numbered = enrolled.broker.url.rsplit("/", 1)[0] + "/2"
    a = enrolled.host(broker_url=numbered)
    assert a.env["REDIS_URL"].endswith("/2")

    worker_side = enrolled.redis(a)  # what the worker's kombu connection does first
    assert worker_side.lpush(a.host.queue, b"a's job") == 1

    assert redis.Redis.from_url(numbered).lrange(a.host.queue, 0, -1) == [b"a's job"]
    assert enrolled.admin().llen(a.host.queue) == 0  # not database 0's list
    with pytest.raises(NoPermissionError):
        worker_side.lpush("control", b"not its queue")
