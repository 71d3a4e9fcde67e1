"""What every test shares: the fixture modules, and the test database's end."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

pytest_plugins = [
    "tests.fixtures.host",
    "tests.fixtures.people",
    "tests.fixtures.workers",
    "tests.fixtures.faulty",
    "tests.fixtures.signing",
    "tests.fixtures.unstattable",
]

#: The Redis URL as given, and the database number this run claimed on it.
_REDIS_CLAIM = pytest.StashKey[tuple[str, int]]()


def pytest_configure(config: pytest.Config) -> None:
    """This run's own Redis database number (fixtures.redis_database says why), in
    ``REDIS_URL`` and in the settings pytest-django has already read from it."""
    from tests.fixtures import redis_database

    url = os.environ.get("REDIS_URL")
    if not url or os.environ.get(redis_database.CLAIMED):
        return  # no Redis; or a run a test started, in its parent's number
    claimed = redis_database.claim(url)
    if claimed is None:
        return
    from django.conf import settings

    from swapadmin.celery import app

    own, n = claimed
    config.stash[_REDIS_CLAIM] = (url, n)
    os.environ[redis_database.CLAIMED] = str(n)
    os.environ["REDIS_URL"] = own
    settings.REDIS_URL = own
    settings.CELERY_BROKER_URL = own
    app.conf.broker_url = own


def pytest_unconfigure(config: pytest.Config) -> None:
    claimed = config.stash.get(_REDIS_CLAIM, None)
    if claimed is not None:
        from tests.fixtures import redis_database

        redis_database.release(*claimed)


#: How long the run's end waits for the test database's other sessions to end.
SESSIONS_END_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's, and at the run's end the test database's other sessions ended first:
    a worker process killed by a test can leave its server session behind it for a moment,
    and DROP DATABASE then fails ("being accessed by other users"), a warning only, leaving
    the database on the server for good (a hundred of them, over a few days of runs). The
    database is this run's own (its name carries the run's pid: fixtures.workers)."""
    yield
    with django_db_blocker.unblock():
        _end_other_sessions()


def _end_other_sessions() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        if not cursor.fetchone()[0].startswith("test_"):
            return  # not a test database: nothing of it is this run's to end
        # Every session of a role this one may signal (its own, the enrolled hosts' roles it
        # is a member of); a superuser's would refuse the signal, so it is not asked.
        others = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND pg_has_role(current_user, usesysid, 'USAGE')"
        )
        cursor.execute(others.replace("count(*)", "count(pg_terminate_backend(pid))"))
        deadline = time.monotonic() + SESSIONS_END_TIMEOUT
        while True:  # pg_terminate_backend only signals: wait for the sessions to be gone
            cursor.execute(others)
            left = cursor.fetchone()[0]
            if left == 0:
                break
            if time.monotonic() > deadline:
                warnings.warn(
                    f"{left} session(s) still on the test database after "
                    f"{SESSIONS_END_TIMEOUT:.0f} s: it may be left on the server",
                    stacklevel=1,
                )
                break
            time.sleep(0.05)
    connection.close()
