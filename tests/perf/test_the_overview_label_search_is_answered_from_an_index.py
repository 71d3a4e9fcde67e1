"""The overview's search ("a name, or a label anywhere in it") is answered from a trigram
index on PostgreSQL (migration core/0011), not by reading every backend's label: the index
must be on the very expression Django's icontains writes, or the planner never uses it and
every searched page scans the fleet's backends again (17 ms a query at 5,000 hosts).

A build that did not finish (an INVALID index left by a stopped migrate) is built again, as
for core/0010."""

from __future__ import annotations

import importlib

import pytest
from django.db import IntegrityError, connection
from django.http import QueryDict
from django.utils import timezone

from swapadmin.core.models import Backend, Host
from swapadmin.web import fleet

INDEX = "core_backend_label_trgm"
MIGRATION = importlib.import_module("swapadmin.core.migrations.0011_overview_label_search_index")


@pytest.fixture(autouse=True)
def postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps its plain LIKE scan: the index is PostgreSQL's")


def index_state() -> str | None:
    with connection.schema_editor(atomic=False) as editor:
        return MIGRATION.index_state(editor, INDEX)


def a_fleet_with_labels() -> None:
    now = timezone.now()
    for i in range(3):
        host = Host.objects.create(name=f"h{i}", last_heartbeat=now)
        Backend.objects.create(host=host, kind="file", name="s", label=f"db-{i}",
                               params={"path": "/s"})  # fmt: skip


@pytest.mark.django_db
def test_the_search_the_overview_runs_reads_the_label_index() -> None:
    a_fleet_with_labels()
    qs = fleet.hosts(fleet.parse(QueryDict("q=db-1")))
    assert [h.name for h in qs] == ["h1"]
    sql, params = qs.values("pk").query.sql_with_params()
    with connection.cursor() as c:
        # Three rows are read fastest by a scan: the question is whether the planner can use
        # the index at all, which it cannot when its expression differs from the query's.
        c.execute("SET LOCAL enable_seqscan = off")
        c.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in c.fetchall())
    assert INDEX in plan, plan


@pytest.mark.django_db(transaction=True)  # CONCURRENTLY refuses a transaction
def test_an_invalid_index_a_failed_build_left_is_built_again() -> None:
    a_fleet_with_labels()
    Backend.objects.filter(label="db-2").update(label="db-1")  # a duplicate, for the failure
    try:
        with connection.cursor() as c:
            c.execute(f'DROP INDEX "{INDEX}"')
            # A concurrent build that fails half way leaves its index behind, INVALID, as a
            # timeout or a stopped migrate would.
            with pytest.raises(IntegrityError):
                c.execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{INDEX}" ON core_backend (label)')
        assert index_state() == "invalid"

        with connection.schema_editor(atomic=False) as editor:
            MIGRATION.build(None, editor)
        assert index_state() == "valid"
        built = index_oid()
        with connection.schema_editor(atomic=False) as editor:
            MIGRATION.build(None, editor)  # a valid one, already there, is kept as it is
        assert index_oid() == built
        with connection.cursor() as c:
            c.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [INDEX])
            assert "gin_trgm_ops" in c.fetchone()[0]
    finally:
        # The index belongs to the session's database, which later tests share.
        if index_state() != "valid":
            with connection.cursor() as c:
                c.execute(f'DROP INDEX IF EXISTS "{INDEX}"')
            with connection.schema_editor(atomic=False) as editor:
                MIGRATION.build(None, editor)


def index_oid() -> int:
    with connection.cursor() as c:
        c.execute("SELECT to_regclass(%s)::oid", [INDEX])
        return int(c.fetchone()[0])
