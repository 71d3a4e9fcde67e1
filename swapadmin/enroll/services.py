"""Enrolling and revoking a host: its own database role and broker user, and its worker.env.

Run by the control plane with the owner's credentials (it creates roles: CREATEROLE).
``enroll`` creates the Host row if needed, a LOGIN role with a random password, member of
the database's hosts group that holds the grants of ``rls.GRANTS`` (row-level security
limits them to the host's rows), a Redis ACL
user limited to the host's queue (``broker``), and records both in a HostCredential: the
policies look the role's hosts up there. ``revoke`` cuts a host off at once: its
credential is marked revoked first (from that statement on, its role matches no row, even
in a session still open), then the role loses LOGIN and its sessions are terminated, and
the broker user is switched off and its connections killed.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Now

from swapadmin.core import signing
from swapadmin.core.models import Host
from swapadmin.core.services import Actor, audit

from . import broker, rls
from .models import HostCredential

if TYPE_CHECKING:  # psycopg is not installed where SQLite alone is used
    from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper

log = logging.getLogger(__name__)


class EnrolError(Exception):
    """Enrolment or revocation refused; the message says why. Nothing was changed."""


@dataclass(frozen=True)
class Enrolment:
    host: Host
    credential: HostCredential
    env: dict[str, str]

    def worker_env(self) -> str:
        lines = [
            f"# worker.env of host {self.host.name}: its own database role "
            f"({self.credential.pg_role}) and broker user; keep it 0600 on that host.",
            *(f"{k}={v}" for k, v in self.env.items()),
        ]
        return "\n".join(lines) + "\n"


def redis_client(url: str | None = None) -> Any:
    import redis

    url = url or settings.REDIS_URL
    if not url:
        raise EnrolError("enrolment needs the Redis broker (REDIS_URL): `make run` has none")
    return redis.Redis.from_url(url, socket_timeout=5)


def _check_ready(name: str) -> None:
    if connection.vendor != "postgresql":
        raise EnrolError(
            "enrolment needs PostgreSQL (DATABASE_URL): per-host roles and row-level security "
            f"do not exist on {connection.vendor}; `make run` is one machine and needs none"
        )
    if not broker.HOST_NAME.fullmatch(name):
        raise EnrolError(
            f"host name {name!r} cannot be enrolled: use letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit), at most 200 characters"
        )


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _with_userinfo(url: str, user: str, password: str, host: str | None) -> str:
    parts = urlsplit(url)
    address = host or parts.hostname or "localhost"
    if ":" in address and not address.startswith("["):
        address = f"[{address}]"  # an IPv6 literal
    if parts.port:
        address = f"{address}:{parts.port}"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{address}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _database_url(role: str, password: str, host: str | None) -> str:
    s = connection.settings_dict
    base = f"postgres://{s.get('HOST') or 'localhost'}:{s.get('PORT') or 5432}/{s['NAME']}"
    return _with_userinfo(base, role, password, host)


def _verify_key() -> str:
    try:
        return signing.public_key_line(signing.verify_key())
    except signing.Unauthorised as e:
        raise EnrolError(f"no key for the host's worker to verify jobs with: {e.message}") from None


#: pg_advisory_xact_lock key of enrolment: two enrolments may not both make the group.
_ENROL_LOCK = 0x5357_4150_454E_524C  # "SWAPENRL"


def _ensure_group(cursor: Any) -> str:
    """The hosts' group role, made on first use, its grants made again from ``rls.GRANTS``
    each time (revoked and granted: what a release adds or drops reaches every host at the
    next enrolment; one ACL entry, so cheap), and any host role that does not take its
    grants from it (enrolled before it, or by an older release) brought in.

    Why a group, not grants of each host role's own: every GRANT adds the grantee to the
    table's ACL, which PostgreSQL keeps whole in the table's catalog row, reads on each
    privilege check and rewrites on each grant. Per host, enrolling the n-th host cost in
    proportion to n (13-21 s for the first 1,000 hosts in bench_fleet_live, against 10 s
    now) and every table's catalog row grew with the fleet."""
    cursor.execute("SELECT current_database()")
    database = cursor.fetchone()[0]  # the server's name for it, whatever a pooler calls it
    group = rls.hosts_group(database)
    q = _q(group)
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ENROL_LOCK])
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [group])
    if cursor.fetchone() is None:
        cursor.execute(f"CREATE ROLE {q} NOLOGIN NOINHERIT")
        # The owner's membership lets a DROP OWNED clean up after it, as for a host role;
        # ADMIN so that it may add members on PostgreSQL 16 and later too.
        cursor.execute(f"GRANT {q} TO CURRENT_USER WITH ADMIN OPTION")
    _grant_reach(cursor, group, database)
    # What it holds on any relation goes first, then what GRANTS says now is granted: REVOKE
    # ALL on a table takes its column privileges too (UPDATE (columns)).
    for name, is_sequence in _relations_granted_to(cursor, group):
        cursor.execute(f"REVOKE ALL ON {'SEQUENCE ' if is_sequence else ''}{name} FROM {q}")
    for table, privileges in rls.GRANTS.items():
        cursor.execute(f"GRANT {', '.join(privileges)} ON {table} TO {q}")
    for sequence in _sequences():
        cursor.execute(f"GRANT USAGE ON SEQUENCE {sequence} TO {q}")
    _join_earlier_roles(cursor, group)
    return group


def _grant_reach(cursor: Any, group: str, database: str) -> None:
    """CONNECT, the schema and the policies' function: granted only when the group holds no
    entry of its own (one it holds through PUBLIC would be gone with a DBA's REVOKE ... FROM
    PUBLIC). Granting USAGE on ``public`` again is not free: its owner is
    pg_database_owner, and PostgreSQL looks for a grantor among the owner's roles, one per
    enrolled host (19 ms at 2,000 hosts, 87 ms at 4,600, when it was granted each time)."""
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) x "
        "  WHERE d.datname = %s AND x.grantee = %s::regrole AND x.privilege_type = 'CONNECT'), "
        "EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) x "
        "  WHERE n.nspname = 'public' AND x.grantee = %s::regrole AND x.privilege_type = 'USAGE'), "
        "EXISTS (SELECT 1 FROM pg_proc p, aclexplode(p.proacl) x "
        "  WHERE p.oid = %s::regprocedure AND x.grantee = %s::regrole "
        "  AND x.privilege_type = 'EXECUTE')",
        [database, _q(group), _q(group), rls.HOSTS_FUNCTION, _q(group)],
    )
    connect, usage, execute = cursor.fetchone()
    q = _q(group)
    if not connect:
        cursor.execute(f"GRANT CONNECT ON DATABASE {_q(database)} TO {q}")
    if not usage:
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {q}")
    if not execute:
        cursor.execute(f"GRANT EXECUTE ON FUNCTION {rls.HOSTS_FUNCTION} TO {q}")


def _relations_granted_to(cursor: Any, role: str) -> list[tuple[str, bool]]:
    """The relations of ``public`` (tables, views, sequences) on which ``role`` holds
    anything, or on any of whose columns, each with whether it is a sequence."""
    cursor.execute(
        "SELECT c.oid::regclass::text, c.relkind = 'S' FROM pg_class c "
        "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') "
        "AND c.relnamespace = 'public'::regnamespace AND ("
        "  EXISTS (SELECT 1 FROM aclexplode(c.relacl) x WHERE x.grantee = %s::regrole)"
        "  OR EXISTS (SELECT 1 FROM pg_attribute a, aclexplode(a.attacl) y"
        "    WHERE a.attrelid = c.oid AND a.attacl IS NOT NULL AND y.grantee = %s::regrole))",
        [_q(role), _q(role)],
    )
    return [(name, bool(is_sequence)) for name, is_sequence in cursor.fetchall()]


def _sequences() -> list[str]:
    """The id sequences of the tables a host inserts into (its INSERTs draw from them)."""
    tables = [t for t, privileges in rls.GRANTS.items() if "INSERT" in privileges]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s FROM unnest(%s::text[]) WITH ORDINALITY AS t(name, i), "
            "pg_get_serial_sequence(t.name, 'id') AS s WHERE s IS NOT NULL ORDER BY t.i",
            [tables],
        )
        return [r[0] for r in cursor.fetchall()]


def _pg_version() -> int:
    # Enrolment runs on PostgreSQL only (_check_ready).
    return cast("PostgresWrapper", connection).pg_version


def _outside_roles(cursor: Any, group: str) -> list[str]:
    """Host roles (a credential of this database names them, and they exist) that do not
    take their grants from the group: not an inheriting member of it, or still holding a
    grant of their own on a table of ``rls.GRANTS``. Joins over the catalogs, no function
    per role: a few milliseconds at 5,000 hosts, asked at every enrolment."""
    # From PostgreSQL 16 each membership carries its own INHERIT option.
    inherits = " AND m.inherit_option" if _pg_version() >= 160000 else ""
    cursor.execute(
        "SELECT r.rolname FROM enroll_hostcredential c JOIN pg_roles r ON r.rolname = c.pg_role "
        "WHERE NOT r.rolinherit OR NOT EXISTS (SELECT 1 FROM pg_auth_members m "
        f"  WHERE m.member = r.oid AND m.roleid = %s::regrole{inherits}) "
        "UNION SELECT r.rolname FROM pg_class t CROSS JOIN LATERAL aclexplode(t.relacl) x "
        "JOIN pg_roles r ON r.oid = x.grantee "
        "JOIN enroll_hostcredential c ON c.pg_role = r.rolname "
        "WHERE t.oid = ANY(%s::regclass[])",
        [_q(group), list(rls.GRANTS)],
    )
    return [r[0] for r in cursor.fetchall()]


def _join_earlier_roles(cursor: Any, group: str) -> None:
    """Host roles that do not take their grants from the group (``_outside_roles``: made
    before it, by an older release, or while a group dropped by hand was missing) join it
    and lose their table and sequence grants of their own, so those ACLs shrink to one
    entry. A role dropped by hand is left to its credential. Their CONNECT, schema and
    function grants stay: no ACL read per query grows by them, and revoking on ``public``
    costs in proportion to the fleet for each role (``_grant_reach``)."""
    roles = _outside_roles(cursor, group)
    sequences = _sequences() if roles else []
    inherit = " WITH INHERIT TRUE" if _pg_version() >= 160000 else ""
    for role in roles:
        q = _q(role)
        # INHERIT first: from PostgreSQL 16 a membership keeps the INHERIT its member had
        # when it was granted, and one granted to a NOINHERIT role passes on nothing.
        cursor.execute(f"ALTER ROLE {q} INHERIT")
        cursor.execute(f"GRANT {_q(group)} TO {q}{inherit}")
        for table in rls.GRANTS:
            cursor.execute(f"REVOKE ALL ON {table} FROM {q}")
        for sequence in sequences:
            cursor.execute(f"REVOKE ALL ON SEQUENCE {sequence} FROM {q}")
        log.info("host role %s now takes its grants from %s", role, group)


def _create_role(role: str, password: str) -> None:
    with connection.cursor() as cursor:
        group = _ensure_group(cursor)
        # INHERIT: the role acts with its group's grants as itself, so current_user, which
        # the row-level security policies key on, stays the host's own role.
        cursor.execute(
            f"CREATE ROLE {_q(role)} LOGIN INHERIT PASSWORD %s IN ROLE {_q(group)}", [password]
        )
        # The owner becomes a member, so that revoke may terminate the role's sessions and
        # a later DROP OWNED may clean up (PostgreSQL asks for membership in both cases).
        cursor.execute(f"GRANT {_q(role)} TO CURRENT_USER")


def enroll(
    name: str,
    actor: Actor,
    *,
    broker_url: str | None = None,
    database_host: str | None = None,
    broker_host: str | None = None,
) -> Enrolment:
    """Enrol host ``name``: returns its credential and the worker.env it needs. Refused
    (EnrolError, nothing changed) off PostgreSQL, for a name a queue key cannot hold, and
    for a host with a live credential (revoke that first)."""
    _check_ready(name)
    verify = _verify_key()
    client = redis_client(broker_url)
    token = secrets.token_hex(6)
    role = user = f"swapadmin_host_{token}"
    db_password, broker_password = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with transaction.atomic():
        host, _ = Host.objects.get_or_create(name=name)
        if HostCredential.objects.filter(host=host, revoked_at=None).exists():
            raise EnrolError(
                f"host {name} is enrolled already: `manage.py revoke-host {name}` first, "
                "then enrol it again for new credentials"
            )
        _create_role(role, db_password)
        credential = HostCredential.objects.create(host=host, pg_role=role, redis_user=user)
        # Last, so a broker that refuses leaves no role behind (the transaction rolls back).
        if not broker.set_host_user(client, user, broker_password, host.queue):
            log.warning(
                "the broker has no ACL file: host %s's broker user lives in its memory only "
                "and is gone after a restart (docker-compose.yml's broker keeps one)",
                name,
            )
        audit(actor, "enroll", host, "ok", {"pg_role": role, "redis_user": user})
    redis_url = broker_url or settings.REDIS_URL
    assert redis_url  # redis_client refused enrolment without one
    env = {
        "SWAPADMIN_HOST": name,
        "DATABASE_URL": _database_url(role, db_password, database_host),
        "REDIS_URL": _with_userinfo(redis_url, user, broker_password, broker_host),
        # Only its own queue: the control queue's tasks are the control plane's.
        "SWAPADMIN_WORKER_QUEUES": "host",
        # Its broker user may not publish to the control queue: events go by the sweep.
        "SWAPADMIN_BROKER_OWN_QUEUE_ONLY": "True",
        "SWAPADMIN_VERIFY_KEY": verify,
    }
    log.info("enrolled host %s as role %s", name, role)
    return Enrolment(host, credential, env)


def revoke(host: Host, actor: Actor, *, broker_url: str | None = None) -> list[str]:
    """Cut ``host`` off now; returns the roles revoked (empty: it had no live credential,
    and nothing changed)."""
    if not HostCredential.objects.filter(host=host, revoked_at=None).exists():
        return []
    if connection.vendor != "postgresql":
        raise EnrolError(f"revocation needs PostgreSQL; this database is {connection.vendor}")
    client = redis_client(broker_url)
    revoked: list[str] = []
    with transaction.atomic():
        live = list(HostCredential.objects.select_for_update().filter(host=host, revoked_at=None))
        for credential in live:
            # First: from this statement on the role matches no row, open session or not.
            HostCredential.objects.filter(pk=credential.pk).update(revoked_at=Now())
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER ROLE {_q(credential.pg_role)} NOLOGIN")
            revoked.append(credential.pg_role)
        if revoked:
            audit(actor, "revoke", host, "ok", {"pg_roles": revoked})
    # After the commit, so a session killed now cannot be one the revocation waited on.
    for credential in live:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = %s",
                [credential.pg_role],
            )
        killed = broker.disable_user(client, credential.redis_user)
        log.warning(
            "revoked host %s: role %s may no longer log in, its sessions ended; broker user "
            "%s off (%d connection(s) closed)", host.name, credential.pg_role,
            credential.redis_user, killed,
        )  # fmt: skip
    return revoked
