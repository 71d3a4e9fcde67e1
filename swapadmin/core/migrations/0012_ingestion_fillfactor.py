"""Room in each page of core_host and core_backend for the sampler's next version of a row.

Every sample rewrites its host's row (the snapshot, its heartbeat) and each of its backends'
(the observation): PostgreSQL writes a new version of each row, and when that version fits
in the row's own page and no indexed column changed (none of the sampler's columns is
indexed) it is a HOT update: no entry in any index (core_backend has seven) and the old
version reclaimed by the page's next reader, without VACUUM. A page packed full (the
default, fillfactor 100) has no room, so about half the host updates and a fifth of the
backend ones went to another page with an entry in every index. With a host row's snapshot
about 1.5 KB, half of each host page is kept free, a fifth of each backend page: every host
update of bench table 4 was then HOT (98% of the backend ones), and PostgreSQL's CPU a
sample fell from 0.78-0.87 ms to 0.65-0.70 ms (docs/BENCHMARKS-control-plane.md, table 4).
The tables are a few MiB at 5,000 hosts; the sample table, which only grows, keeps the
default.

The setting applies to pages written from now on: an existing table's full pages gain room
as their rows move on update. Nothing is rewritten here (VACUUM FULL or pg_repack would, at
the cost of a lock a running fleet would wait on). ALTER TABLE ... SET takes a SHARE UPDATE
EXCLUSIVE lock, which no sampler's UPDATE waits for. SQLite has no fillfactor: nothing to do.
"""

from typing import Any

from django.db import migrations

FILLFACTOR = {"core_host": 50, "core_backend": 80}


def set_fillfactor(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, percent in FILLFACTOR.items():
        schema_editor.execute(
            f"ALTER TABLE {schema_editor.quote_name(table)} SET (fillfactor = {percent})"
        )


def reset_fillfactor(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in FILLFACTOR:
        schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0011_overview_label_search_index"),
    ]

    operations = [
        migrations.RunPython(set_fillfactor, reset_fillfactor, elidable=False),
    ]
