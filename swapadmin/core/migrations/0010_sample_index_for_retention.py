"""Sample's indexes for a year of a large fleet: retention's deletes (a resolution's rows
older than its keep time) get an index on (resolution, at). docs/BENCHMARKS-control-plane.md,
table 4, has the sizes.

On PostgreSQL the index is built CONCURRENTLY: a plain CREATE INDEX holds a SHARE lock on
core_sample for the whole build, and at tens of millions of rows every sampler's INSERT
would wait for it. A concurrent build cannot run in a transaction, so this migration is not
atomic. A build that failed or was stopped (a timeout, Ctrl-C, the container stopped) leaves
an INVALID index of that name, and a crash after the build leaves a valid one the migration
table does not know of: either made every later migrate fail ("already exists") and compose's
web restart for ever. So the build is idempotent: a valid index of the name is kept, an
invalid one dropped and built again. (The host key's own index stays: dropping it
re-validated the foreign key under an exclusive lock on core_host and core_sample, see
Sample.host.)"""

from typing import Any

from django.db import migrations, models


def index_state(schema_editor: Any, name: str) -> str | None:
    """ "valid", "invalid" (a concurrent build that did not finish: PostgreSQL only) or None
    for an index ``name`` in this database."""
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
                [name],
            )
            row = cursor.fetchone()
            return None if row is None else ("valid" if row[0] else "invalid")
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = %s", [name])
        return "valid" if cursor.fetchone() else None


class AddIndexConcurrentlyOnPostgres(migrations.AddIndex):
    """AddIndex, built with CREATE INDEX CONCURRENTLY on PostgreSQL (django.contrib.postgres's
    AddIndexConcurrently, imported only there: it needs psycopg) and as usual elsewhere."""

    def _concurrently(self) -> Any:
        from django.contrib.postgres.operations import AddIndexConcurrently

        return AddIndexConcurrently(self.model_name, self.index)

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        found = None if schema_editor.collect_sql else index_state(schema_editor, self.index.name)
        if found == "valid":
            return  # built by a run that ended before it was recorded
        postgresql = schema_editor.connection.vendor == "postgresql"
        if found == "invalid":
            name = schema_editor.quote_name(self.index.name)
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        if postgresql:
            self._concurrently().database_forwards(app_label, schema_editor, *args)
        else:
            super().database_forwards(app_label, schema_editor, *args)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            self._concurrently().database_backwards(app_label, schema_editor, *args)
        else:
            super().database_backwards(app_label, schema_editor, *args)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY refuses to run in a transaction
    dependencies = [
        ("core", "0009_host_snapshot_columns"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="sample",
            index=models.Index(fields=["resolution", "at"], name="core_sample_resolution_at"),
        ),
    ]
