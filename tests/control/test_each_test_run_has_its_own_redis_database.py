"""A test run works in a Redis database number of its own (tests/fixtures/redis_database),
so that two runs on one Redis never take each other's control tasks: the run's REDIS_URL
names a number this run has claimed, which its workers use; a second claim is given another
number; a released number is free again; and where no number can be had the run says so
and keeps the URL it was given."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
import redis
from django.conf import settings

from swapadmin.celery import app
from tests.faults.own_servers import free_port, wait_port
from tests.fixtures import redis_database
from tests.fixtures.workers import WorkerProcess

pytestmark = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")

OWNER = f"{socket.gethostname()}:{os.getpid()}".encode()


def _home() -> redis.Redis:
    return redis.Redis.from_url(redis_database.with_database(os.environ["REDIS_URL"], 0))


def test_this_run_and_its_workers_work_in_the_number_it_claimed(
    worker: WorkerProcess,
) -> None:
    if not os.environ.get(redis_database.CLAIMED):
        # On the Redis scripts/services.sh started (make test's own, as in CI) a claim
        # cannot fail: a run there that claimed nothing has lost its isolation, which a skip
        # would hide. A Redis the caller named may have one database, or forbid the claim.
        assert os.environ.get("SWAPADMIN_TEST_OWN_REDIS") != "1", (
            "this run claimed no Redis database number on the Redis make test started"
        )
        pytest.skip("this run could claim no number of its own (its warning says why)")
    url = os.environ["REDIS_URL"]
    n = redis_database.database_of(url)
    assert n not in redis_database.RESERVED
    assert app.conf.broker_url == settings.REDIS_URL == url
    assert _home().get(redis_database.KEY.format(n=n)) == OWNER
    # The worker is given the same URL; that it consumes there, every end-to-end test shows
    # (this process publishes each job to the claimed number).
    assert worker.env["REDIS_URL"] == url
    assert worker.alive()


def test_a_second_claim_is_given_another_number_and_a_release_frees_it() -> None:
    url = os.environ["REDIS_URL"]
    first = redis_database.claim(url)
    assert first is not None
    try:
        second = redis_database.claim(url)
        assert second is not None
        try:
            (a_url, a), (b_url, b) = first, second
            assert a != b and redis_database.database_of(url) not in (a, b)
            assert redis_database.database_of(a_url) == a
            assert redis_database.database_of(b_url) == b
        finally:
            redis_database.release(url, second[1])
        assert _home().get(redis_database.KEY.format(n=second[1])) is None
    finally:
        redis_database.release(url, first[1])
    assert _home().get(redis_database.KEY.format(n=first[1])) is None


def test_a_claim_held_by_another_owner_is_not_released_by_this_run() -> None:
    url = os.environ["REDIS_URL"]
    claimed = redis_database.claim(url)
    assert claimed is not None
    key = redis_database.KEY.format(n=claimed[1])
    _home().set(key, b"another-machine:1", ex=60)
    try:
        redis_database.release(url, claimed[1])
        assert _home().get(key) == b"another-machine:1"
    finally:
        _home().delete(key)


def test_a_url_with_a_db_query_is_rewritten_whole() -> None:
    rewritten = redis_database.with_database("redis://:pw@h:6379/0?db=3&socket_timeout=5", 7)
    assert redis_database.database_of(rewritten) == 7
    assert "db=" not in rewritten and "socket_timeout=5" in rewritten


def test_a_redis_with_one_database_leaves_the_url_as_given(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--databases", "1",
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_port(port)
        with pytest.warns(UserWarning, match="fewer than 16 databases"):
            assert redis_database.claim(f"redis://127.0.0.1:{port}/0") is None
        assert redis.Redis(port=port).keys("swapadmin:test-run:*") == []  # given back
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_redis_that_does_not_answer_leaves_the_url_as_given() -> None:
    port = free_port()  # nothing listens on it
    with pytest.warns(UserWarning, match="no Redis database number claimed"):
        assert redis_database.claim(f"redis://127.0.0.1:{port}/0") is None
