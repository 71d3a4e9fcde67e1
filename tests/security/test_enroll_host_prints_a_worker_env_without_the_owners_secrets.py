"""``manage.py enroll-host NAME`` prints a worker.env with the host's own database role and
broker user (new random passwords), its own queue only and the verify key: not the owner's
database or broker password, not SECRET_KEY, not the signing key. Bad input is refused with
the reason and changes nothing: a name a queue key cannot hold, a host enrolled already."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection

from swapadmin.core.models import Host
from swapadmin.enroll.models import HostCredential
from tests.fixtures.signing import PUBLIC_KEY

from .enrolled import Enrolled, drop_roles, enrolled  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def enroll_host(*args: str) -> dict[str, str]:
    out = io.StringIO()
    call_command("enroll-host", *args, stdout=out)
    lines = [line for line in out.getvalue().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def roles_like(prefix: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", [prefix + "%"])
        return {r[0] for r in cursor.fetchall()}


def test_it_prints_the_hosts_own_credentials(enrolled: Enrolled, settings) -> None:  # noqa: F811
    settings.REDIS_URL = enrolled.broker.url
    before = roles_like("swapadmin_host_")
    try:
        env = enroll_host("db7", "--database-host", "pg.internal", "--broker-host", "127.0.0.1")
    finally:
        drop_roles(sorted(roles_like("swapadmin_host_") - before))
    credential = HostCredential.objects.get(host__name="db7")
    assert set(env) == {
        "SWAPADMIN_HOST", "DATABASE_URL", "REDIS_URL", "SWAPADMIN_WORKER_QUEUES",
        "SWAPADMIN_BROKER_OWN_QUEUE_ONLY", "SWAPADMIN_VERIFY_KEY",
    }  # fmt: skip
    assert env["SWAPADMIN_BROKER_OWN_QUEUE_ONLY"] == "True"
    assert env["SWAPADMIN_HOST"] == "db7"
    assert env["SWAPADMIN_WORKER_QUEUES"] == "host"
    assert env["SWAPADMIN_VERIFY_KEY"] == PUBLIC_KEY
    database, broker = urlsplit(env["DATABASE_URL"]), urlsplit(env["REDIS_URL"])
    assert (database.username, database.hostname) == (credential.pg_role, "pg.internal")
    assert database.path == f"/{connection.settings_dict['NAME']}"
    assert broker.username == credential.redis_user
    owner = connection.settings_dict["PASSWORD"]
    assert database.password and database.password != owner and len(database.password) >= 40
    assert broker.password and broker.password != database.password
    text = "\n".join(env.values())
    assert django_settings.SECRET_KEY not in text
    assert f":{owner}@" not in text and connection.settings_dict["USER"] not in {
        database.username,
        broker.username,
    }
    assert "PRIVATE KEY" not in text


def test_bad_input_is_refused_and_changes_nothing(enrolled: Enrolled, settings) -> None:  # noqa: F811
    settings.REDIS_URL = enrolled.broker.url
    a = enrolled.host()
    before = roles_like("swapadmin_host_")
    try:
        with pytest.raises(CommandError, match="enrolled already: `manage.py revoke-host"):
            enroll_host(a.host.name)
        for name in ("*", "b[1]", "a b", "_x", "x" * 201):
            with pytest.raises(CommandError, match="cannot be enrolled"):
                enroll_host(name)
    finally:
        made = roles_like("swapadmin_host_") - before
        drop_roles(sorted(made))
    assert made == set()
    assert HostCredential.objects.count() == 1
    assert not Host.objects.filter(name="*").exists()
