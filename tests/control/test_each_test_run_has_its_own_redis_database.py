"""A test run works in a Redis database number of its own (tests/fixtures/redis_database),
so that two runs on one Redis never take each other's control tasks: the run's REDIS_URL
names a number this run has claimed, a second claim is given another number, and a
released number is free again."""

from __future__ import annotations

import os
import socket

import pytest
import redis
from django.conf import settings

from swapadmin.celery import app
from tests.fixtures import redis_database


@pytest.fixture
def home_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs REDIS_URL")
    return redis_database._with_database(url, 0 if _number(url) else 1)


def _number(url: str) -> int:
    return redis_database._database_of(url)


def test_this_run_works_in_the_number_it_claimed() -> None:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("needs REDIS_URL")
    n = _number(url)
    # The process's own publisher and the settings the workers' env is built from agree.
    assert app.conf.broker_url == settings.REDIS_URL == url
    claims = [
        redis.Redis.from_url(redis_database._with_database(url, home)).get(
            redis_database.KEY.format(n=n)
        )
        for home in range(redis_database.DATABASES)
        if home != n
    ]
    assert f"{socket.gethostname()}:{os.getpid()}".encode() in claims


def test_a_second_claim_is_given_another_number_and_a_release_frees_it(home_url: str) -> None:
    first, a = redis_database.claim(home_url)
    try:
        second, b = redis_database.claim(home_url)
        try:
            assert a != b
            assert _number(first) == a and _number(second) == b
            assert a != _number(home_url) and b != _number(home_url)
        finally:
            redis_database.release(home_url, b)
        again, c = redis_database.claim(home_url)
        redis_database.release(home_url, c)
        assert c == b  # the lowest free number: b's again, now released
    finally:
        redis_database.release(home_url, a)
    home = redis.Redis.from_url(home_url)
    assert home.get(redis_database.KEY.format(n=a)) is None


def test_a_claim_held_by_another_owner_is_not_released_by_this_run(home_url: str) -> None:
    _, n = redis_database.claim(home_url)
    home = redis.Redis.from_url(home_url)
    key = redis_database.KEY.format(n=n)
    home.set(key, b"another-machine:1")
    try:
        redis_database.release(home_url, n)
        assert home.get(key) == b"another-machine:1"
    finally:
        home.delete(key)
