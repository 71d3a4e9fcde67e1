"""The overview's search reads every visible backend's label ("a label anywhere in it"): a
``UPPER(label) LIKE '%...%'`` no B-tree serves, so each searched page scanned all backends
twice (its count and its page), 17 ms each at 5,000 hosts (EXPLAIN ANALYZE, 2026-11-30;
about 3 ms with the index). A trigram GIN index (pg_trgm) on the very expression Django's
``icontains`` compares answers it from the index.

PostgreSQL only: SQLite keeps its plain LIKE scan (the embedded default's fleet is one
machine). pg_trgm is a trusted extension (PostgreSQL 13+): a user with CREATE on the
database makes it. Where that is refused (an older server, a locked-down role) the search
still works, unindexed, and the migration says so instead of stopping the upgrade.

Built CONCURRENTLY, so not atomic, and idempotent as 0010 is: a valid index of the name is
kept, an invalid one (a build that did not finish) dropped and built again, so no sampler's
write waits on the build and a stopped upgrade can be run again."""

import importlib
import sys
from typing import Any

from django.db import migrations
from django.db.utils import DatabaseError

INDEX = "core_backend_label_trgm"
index_state = importlib.import_module(
    "swapadmin.core.migrations.0010_sample_index_for_retention"
).index_state


#: Why the index may not be built, and the search left unindexed: not allowed (to create the
#: extension, or to use the schema it is in), not available (no pg_trgm in this server's
#: packages). Anything else (a timeout, a lost connection, two migrates racing) stops the
#: upgrade, to be run again.
REFUSALS = {"42501", "0A000", "58P01"}


def build(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        _build_index(schema_editor)
    except DatabaseError as e:
        if getattr(e.__cause__, "sqlstate", None) not in REFUSALS:
            raise
        print(
            f"\n  core 0011: the label index could not be built ({e}); the overview's label "
            "search stays unindexed (slower past a few thousand backends). Once a superuser "
            "has run CREATE EXTENSION pg_trgm in this database (in a schema this role may "
            "use): manage.py migrate core 0010, then manage.py migrate.",
            file=sys.stderr,
        )


def _build_index(schema_editor: Any) -> None:
    found = index_state(schema_editor, INDEX)
    if found == "valid":
        return
    if found == "invalid":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
    # The operator class by its schema: the extension may live in one the app's role does
    # not search (an "extensions" schema, as managed services make).
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT extnamespace::regnamespace::text FROM pg_extension "
                       "WHERE extname = 'pg_trgm'")  # fmt: skip
        (schema,) = cursor.fetchone()
    # The expression as Django's icontains writes it (UPPER("label"::text) LIKE UPPER(%s)),
    # or the planner cannot match it to the index.
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY {INDEX} ON core_backend "
        f"USING gin ((UPPER(label::text)) {schema}.gin_trgm_ops)"
    )


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY refuses to run in a transaction
    dependencies = [
        ("core", "0010_sample_index_for_retention"),
    ]

    operations = [migrations.RunPython(build, drop, elidable=False)]
