"""Holding host A's complete worker.env (its own database role), an attacker reads none of
host B's rows and changes none: updates and deletes of B's jobs, backends and host row
match nothing, inserts of jobs and backends for B (a forced provision among them) and
moving A's own rows over to B are refused by the database, and the tables a worker never
needs (users, tokens, the beat schedule, the credentials themselves) are closed. B's rows,
read by the owner afterwards, are what they were. The same statements on A's own rows
succeed: the policy is "its own host", not "nothing"."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django_celery_beat.models import PeriodicTask
from psycopg import errors

from swapadmin.accounts.models import ApiToken
from swapadmin.core.models import Backend, Host, Job
from swapadmin.enroll.models import HostCredential
from swapadmin.health.models import AlertChannel

from .enrolled import Enrolled, enrolled  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def rows_of(host: Host) -> dict[str, Any]:
    """Everything of ``host`` an attacker would want to change, as the owner reads it."""
    return {
        "host": list(Host.objects.filter(pk=host.pk).values()),
        "backends": list(Backend.objects.filter(host=host).order_by("pk").values()),
        "jobs": list(Job.objects.filter(host=host).order_by("pk").values()),
    }


def some_rows(host: Host) -> tuple[Backend, Job]:
    backend = Backend.objects.create(
        host=host, kind="block", name="data", params={"device": "/dev/loop9"}
    )
    job = Job.objects.create(
        kind=Job.Kind.CHECK, host=host, backend=backend, backend_name="data", params={}
    )
    return backend, job


def forge(db: psycopg.Connection[Any], table: str, like: int, **changes: Any) -> None:
    """INSERT into ``table`` a copy of row ``like`` (one the role can see) with ``changes``:
    a row written the way an attacker with raw SQL would write it."""
    sets = ", ".join(f"{k} = %({k})s" for k in changes)
    with db.transaction():
        db.execute(
            f"CREATE TEMP TABLE forged ON COMMIT DROP AS SELECT * FROM {table} WHERE id = %s",
            [like],
        )
        db.execute(
            f"UPDATE forged SET id = id + 1000000, uuid = gen_random_uuid(), {sets}", changes
        )
        db.execute(f"INSERT INTO {table} SELECT * FROM forged")


def count(db: psycopg.Connection[Any], sql: str, *params: Any) -> int:
    return db.execute(sql, params).rowcount


def test_a_reaches_its_own_rows_and_none_of_bs(enrolled: Enrolled) -> None:  # noqa: F811
    a, b = enrolled.pair()
    a_backend, a_job = some_rows(a.host)
    b_backend, b_job = some_rows(b.host)
    b_before = rows_of(b.host)

    with enrolled.pg(a) as db:
        # Reading: B's rows are not there at all.
        assert db.execute("SELECT id FROM core_host").fetchall() == [(a.host.pk,)]
        assert db.execute("SELECT id FROM core_backend").fetchall() == [(a_backend.pk,)]
        assert db.execute("SELECT id FROM core_job").fetchall() == [(a_job.pk,)]
        assert db.execute("SELECT * FROM core_job WHERE id = %s", [b_job.pk]).fetchall() == []

        # Changing B's rows matches nothing.
        force = '{"force": true}'
        assert count(db, "UPDATE core_job SET params = %s WHERE id = %s", force, b_job.pk) == 0
        assert count(db, "UPDATE core_job SET state = 'queued' WHERE host_id = %s", b.host.pk) == 0
        assert (
            count(
                db,
                'UPDATE core_backend SET params = \'{"device": "/dev/vda"}\' WHERE id = %s',
                b_backend.pk,
            )
            == 0
        )
        assert count(db, "DELETE FROM core_backend WHERE id = %s", b_backend.pk) == 0
        assert (
            count(db, "UPDATE core_host SET last_heartbeat = now() WHERE id = %s", b.host.pk) == 0
        )

        # Writing rows for B is refused by the policy, and so is moving A's own rows to B.
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            forge(db, "core_job", a_job.pk, host_id=b.host.pk, params=force, backend_id=None)
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            forge(db, "core_backend", a_backend.pk, host_id=b.host.pk, name="planted")
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            db.execute("UPDATE core_job SET host_id = %s WHERE id = %s", [b.host.pk, a_job.pk])
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            # A job of A's own naming B's backend: its worker would run it on B's store.
            db.execute(
                "UPDATE core_job SET backend_id = %s WHERE id = %s", [b_backend.pk, a_job.pk]
            )

        # A host's name and what no worker needs are not granted at all.
        with pytest.raises(errors.InsufficientPrivilege):
            db.execute("UPDATE core_host SET name = 'renamed' WHERE id = %s", [a.host.pk])
        for model in (User, ApiToken, Session, PeriodicTask, HostCredential, AlertChannel):
            table = model._meta.db_table
            with pytest.raises(errors.InsufficientPrivilege):
                db.execute(f"SELECT 1 FROM {table} LIMIT 1")
        with pytest.raises(errors.InsufficientPrivilege):
            db.execute("DELETE FROM core_job WHERE id = %s", [a_job.pk])

        # A's own rows: read, changed, inserted and deleted as its worker does.
        assert count(db, "UPDATE core_job SET progress_message = 'mine' WHERE id = %s", a_job.pk)
        assert count(db, "UPDATE core_host SET last_heartbeat = now() WHERE id = %s", a.host.pk)
        forge(db, "core_backend", a_backend.pk, name="adopted")
        assert count(db, "DELETE FROM core_backend WHERE name = 'adopted'") == 1
        forge(db, "core_job", a_job.pk, params=force)

    assert rows_of(b.host) == b_before
    assert Job.objects.get(pk=a_job.pk).progress_message == "mine"
    assert Job.objects.filter(host=a.host).count() == 2
