"""Migration core/0010 builds Sample's (resolution, at) index CONCURRENTLY on PostgreSQL. A
build that fails or is stopped leaves an INVALID index of that name, and a crash after the
build leaves a valid one the migration table does not know of: migrating again must build
the first again and keep the second, not fail with "already exists" for ever (compose's web
runs migrate at every start)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.db import IntegrityError, connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from swapadmin.core.models import Host, Sample

NAME = "core_sample_resolution_at"
MIGRATION = importlib.import_module("swapadmin.core.migrations.0010_sample_index_for_retention")

pytestmark = pytest.mark.django_db(transaction=True)  # CONCURRENTLY refuses a transaction


def state() -> str | None:
    with connection.schema_editor(atomic=False) as editor:
        return MIGRATION.index_state(editor, NAME)


def run_0010_again() -> None:
    loader = MigrationLoader(connection)
    before = loader.project_state(("core", "0009_host_snapshot_columns"))
    after = loader.project_state(("core", "0010_sample_index_for_retention"))
    operation: Any = MIGRATION.Migration.operations[0]
    with connection.schema_editor(atomic=False) as editor:
        operation.database_forwards("core", editor, before, after)


def test_a_valid_index_a_crash_left_unrecorded_is_kept() -> None:
    assert state() == "valid"
    run_0010_again()  # no "already exists"
    assert state() == "valid"


def test_an_invalid_index_a_failed_build_left_is_built_again() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL builds concurrently (DATABASE_URL unset)")
    host = Host.objects.create(name="idx", machine_id="i" * 32)
    now = timezone.now()
    Sample.objects.bulk_create([Sample(host=host, at=now), Sample(host=host, at=now)])
    with connection.cursor() as c:
        c.execute(f'DROP INDEX "{NAME}"')
        # A concurrent build that fails half way (here on duplicates) leaves its index
        # behind, INVALID, as a timeout or a stopped migrate would.
        with pytest.raises(IntegrityError):
            c.execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{NAME}" ON core_sample (resolution)')
    assert state() == "invalid"

    run_0010_again()

    assert state() == "valid"
    with connection.cursor() as c:
        c.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [NAME])
        assert c.fetchone()[0].endswith("(resolution, at)")
