"""Sample's indexes for a year of a large fleet: retention's deletes (a resolution's rows
older than its keep time) get an index on (resolution, at). docs/BENCHMARKS-control-plane.md,
table 4, has the sizes.

On PostgreSQL the index is built CONCURRENTLY: a plain CREATE INDEX holds a SHARE lock on
core_sample for the whole build, and at tens of millions of rows every sampler's INSERT
would wait for it. A concurrent build cannot run in a transaction, so this migration is not
atomic. (The host key's own index stays: dropping it re-validated the foreign key under an
exclusive lock on core_host and core_sample, see Sample.host.)"""

from typing import Any

from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(migrations.AddIndex):
    """AddIndex, built with CREATE INDEX CONCURRENTLY on PostgreSQL (django.contrib.postgres's
    AddIndexConcurrently, imported only there: it needs psycopg) and as usual elsewhere."""

    def _concurrently(self) -> Any:
        from django.contrib.postgres.operations import AddIndexConcurrently

        return AddIndexConcurrently(self.model_name, self.index)

    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
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
