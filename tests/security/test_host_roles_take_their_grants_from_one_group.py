"""Every host role of a database takes its grants from one group role, so a table's ACL
holds one entry for the whole fleet however many hosts are enrolled: per-role grants made
the n-th enrolment cost in proportion to n (13-21 s for the 1,000th host). A role enrolled
before the group existed joins it at the next enrolment and loses its grants of its own,
and what a release drops from the grants is gone from the group at the next enrolment.
Row-level security still keys on the host's own role: a host that becomes the group sees
no row at all."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg
import pytest
from django.db import connection
from psycopg import errors

from swapadmin.core.models import Host
from swapadmin.enroll import rls
from swapadmin.enroll.models import HostCredential

from .enrolled import Enrolled, enrolled  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def group() -> str:
    return rls.hosts_group(connection.settings_dict["NAME"])


def grantees(table: str) -> set[str]:
    """Every role named in ``table``'s ACL and in its columns' ACLs."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT g.rolname FROM ("
            "  SELECT (aclexplode(relacl)).grantee FROM pg_class WHERE oid = %s::regclass"
            "  UNION ALL SELECT (aclexplode(attacl)).grantee FROM pg_attribute"
            "  WHERE attrelid = %s::regclass AND attacl IS NOT NULL"
            ") a JOIN pg_roles g ON g.oid = a.grantee",
            [table, table],
        )
        return {r[0] for r in cursor.fetchall()}


def insert_a_sample(db: psycopg.Connection[Any], host_id: int) -> None:
    db.execute(
        "INSERT INTO core_sample (host_id, at, resolution, mem_total, mem_available, "
        "swap_total, swap_free, swap_cached, pswpin_rate, pswpout_rate, psi_some_avg10, "
        "psi_full_avg10, backends) VALUES (%s, now(), 'raw', 0, 0, 0, 0, 0, 0, 0, 0, 0, '{}')",
        [host_id],
    )


def own_entries(catalog: str, acl: str, where: str) -> set[str]:
    """The privileges the group holds in its own name (not through PUBLIC) on one object."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT x.privilege_type FROM {catalog} o, aclexplode(o.{acl}) x "
            f"WHERE {where} AND x.grantee = %s::regrole",
            [f'"{group()}"'],
        )
        return {r[0] for r in cursor.fetchall()}


def test_the_group_holds_its_reach_in_its_own_name(enrolled: Enrolled) -> None:  # noqa: F811
    """A database's CONNECT and the schema's USAGE also come through PUBLIC by default; a
    DBA who revokes those from PUBLIC must not cut the fleet off."""
    enrolled.host()
    assert own_entries("pg_database", "datacl", "o.datname = current_database()") == {"CONNECT"}
    assert own_entries("pg_namespace", "nspacl", "o.nspname = 'public'") == {"USAGE"}


def test_three_hosts_add_one_entry_to_each_tables_acl(enrolled: Enrolled) -> None:  # noqa: F811
    a = enrolled.host()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
    after_one = {table: grantees(table) for table in rls.GRANTS}
    b, c = enrolled.host(), enrolled.host()

    for table in rls.GRANTS:
        assert grantees(table) == after_one[table] == {owner, group()}, table
    for host in (a, b, c):
        role = host.credential.pg_role
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT rolinherit, rolcanlogin, pg_has_role(rolname, %s, 'USAGE') "
                "FROM pg_roles WHERE rolname = %s",
                [group(), role],
            )
            assert cursor.fetchone() == (True, True, True), role
        with enrolled.pg(host) as db:
            assert db.execute("SELECT id FROM core_host").fetchall() == [(host.host.pk,)]


def test_a_host_that_becomes_the_group_sees_no_row(enrolled: Enrolled) -> None:  # noqa: F811
    a = enrolled.host()
    with enrolled.pg(a) as db:
        db.execute(f'SET ROLE "{group()}"')
        assert db.execute("SELECT count(*) FROM core_host").fetchone() == (0,)
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
            insert_a_sample(db, a.host.pk)


def _enrol_the_old_way(name: str, enrolled: Enrolled) -> tuple[Host, str, str]:  # noqa: F811
    """What enrolment made before the group: a NOINHERIT role with grants of its own."""
    host = Host.objects.create(name=name)
    role, password = f"swapadmin_host_{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    q = connection.ops.quote_name(role)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {q} LOGIN NOINHERIT PASSWORD %s", [password])
        enrolled.roles.append(role)  # dropped at the end, whatever fails from here
        cursor.execute(f"GRANT {q} TO CURRENT_USER")
        cursor.execute(f"GRANT CONNECT ON DATABASE {connection.settings_dict['NAME']} TO {q}")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {q}")
        cursor.execute(f"GRANT EXECUTE ON FUNCTION {rls.HOSTS_FUNCTION} TO {q}")
        for table, privileges in rls.GRANTS.items():
            cursor.execute(f"GRANT {', '.join(privileges)} ON {table} TO {q}")
        cursor.execute(f"GRANT USAGE ON SEQUENCE {SAMPLE_IDS} TO {q}")
    HostCredential.objects.create(host=host, pg_role=role, redis_user=role)
    return host, role, password


SAMPLE_IDS = "core_sample_id_seq"


def sequence_grantees(sequence: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT g.rolname FROM (SELECT (aclexplode(relacl)).grantee FROM pg_class"
            " WHERE oid = %s::regclass) a JOIN pg_roles g ON g.oid = a.grantee",
            [sequence],
        )
        return {r[0] for r in cursor.fetchall()}


def test_a_role_enrolled_before_the_group_joins_it(enrolled: Enrolled) -> None:  # noqa: F811
    host, role, password = _enrol_the_old_way(f"old-{uuid.uuid4().hex[:8]}", enrolled)
    # Another, revoked long ago, whose role someone has dropped since: left alone.
    _, gone, _ = _enrol_the_old_way(f"gone-{uuid.uuid4().hex[:8]}", enrolled)
    with connection.cursor() as cursor:
        cursor.execute(f'DROP OWNED BY "{gone}"')
        cursor.execute(f'DROP ROLE "{gone}"')
    assert role in grantees("core_backend") and role in sequence_grantees(SAMPLE_IDS)

    enrolled.host()  # the next enrolment

    for table in rls.GRANTS:
        assert role not in grantees(table), table
    assert role not in sequence_grantees(SAMPLE_IDS)
    s = connection.settings_dict
    url = f"postgresql://{role}:{password}@{s['HOST'] or 'localhost'}:{s['PORT']}/{s['NAME']}"
    db: Any
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as db:
        assert db.execute("SELECT id FROM core_host").fetchall() == [(host.pk,)]
        db.execute("UPDATE core_host SET last_heartbeat = now()")
        insert_a_sample(db, host.pk)  # through the group's grant on the id sequence
        with pytest.raises(errors.InsufficientPrivilege):
            db.execute("UPDATE core_host SET name = 'taken'")


def test_a_role_an_older_release_made_after_the_group_joins_it(
    enrolled: Enrolled,  # noqa: F811
) -> None:
    enrolled.host()  # the group is there
    host, role, password = _enrol_the_old_way(f"late-{uuid.uuid4().hex[:8]}", enrolled)
    assert role in grantees("core_backend")

    enrolled.host()

    assert role not in grantees("core_backend")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolinherit, pg_has_role(rolname, %s, 'USAGE') FROM pg_roles WHERE rolname = %s",
            [group(), role],
        )
        assert cursor.fetchone() == (True, True)


def test_a_grant_a_release_drops_is_gone_at_the_next_enrolment(
    enrolled: Enrolled,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enrolled.host()
    assert group() in grantees("health_healthevent")
    fewer = {t: p for t, p in rls.GRANTS.items() if t != "health_healthevent"}
    fewer["core_host"] = ("SELECT",)  # and no UPDATE of its columns either
    monkeypatch.setattr(rls, "GRANTS", fewer)

    b = enrolled.host()

    assert group() not in grantees("health_healthevent")
    assert group() not in sequence_grantees("health_healthevent_id_seq")
    with enrolled.pg(b) as db:
        with pytest.raises(errors.InsufficientPrivilege):
            db.execute("SELECT count(*) FROM health_healthevent")
        with pytest.raises(errors.InsufficientPrivilege):
            db.execute("UPDATE core_host SET last_heartbeat = now()")


def test_enrolments_at_once_make_one_group(enrolled: Enrolled) -> None:  # noqa: F811
    """Two enrolments of a fleet whose group is not made yet, started together: the group
    is made once and both are enrolled (two sessions granting on one table at once fail
    with "tuple concurrently updated" unless one waits for the other)."""
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def enrol() -> None:
        try:
            start.wait(timeout=30)
            for _ in range(3):
                enrolled.host()
        except BaseException as e:  # reported below, in the test's own thread
            failures.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=enrol) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    assert HostCredential.objects.filter(revoked_at=None).count() == 6
    for table in rls.GRANTS:
        assert group() in grantees(table), table
