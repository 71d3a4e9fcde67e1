"""A dynamic round locks its policy's row, which makes rounds take turns, and not its host's:
the round goes on to lock a backend's row (its action), while an edit or an action holding a
backend's row needs the host's at commit (its job's foreign key), and a job's claim holds the
host's row before its backend's. Holding the host's row FOR UPDATE here made a round and an
edit of one of its files a deadlock (a review reproduced it)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from swapadmin.core import dynamic
from swapadmin.core.models import Host
from tests.fixtures.marks import row_locks

pytestmark = [
    pytest.mark.django_db,
    row_locks,
]

MiB = 1 << 20


def test_no_statement_of_a_round_locks_the_hosts_row(host_row: Host) -> None:
    policy = dynamic.policy_for(host_row)
    policy.enabled, policy.min_free_bytes = True, 32 * MiB
    policy.save()
    with CaptureQueriesContext(connection) as queries:
        dynamic.run_policy(policy)
    locks = [q["sql"] for q in queries if " FOR UPDATE" in q["sql"] or " FOR NO KEY" in q["sql"]]
    assert locks, "the round took no lock at all"
    host_table = Host._meta.db_table
    for sql in locks:
        if f'"{host_table}"' in sql:
            # The host joined for reading: the lock names the other tables only.
            assert " OF " in sql and f'"{host_table}"' not in sql.rsplit(" OF ", 1)[1], sql
