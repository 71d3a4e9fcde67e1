"""Migration core/0010 builds Sample's (resolution, at) index CONCURRENTLY on PostgreSQL: a
plain CREATE INDEX holds a SHARE lock on core_sample for the whole build, and at tens of
millions of rows every sampler's INSERT would wait for it. SQLite, which has no such build,
gets a plain CREATE INDEX. (The suite's test databases are migrated from scratch, so the
migration itself runs on both at every session's start.)"""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

MANAGE = Path(__file__).resolve().parents[2] / "manage.py"
INDEX = '"core_sample_resolution_at" ON "core_sample" ("resolution", "at")'


@pytest.mark.django_db(transaction=True)  # CONCURRENTLY refuses to run in a transaction
def test_postgresql_builds_it_concurrently() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the test database is not PostgreSQL (DATABASE_URL unset)")
    out = StringIO()
    call_command("sqlmigrate", "core", "0010", stdout=out)
    assert f"CREATE INDEX CONCURRENTLY {INDEX};" in out.getvalue()


def test_sqlite_builds_it_as_usual(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_URL_FILE")}
    env.update(
        SWAPADMIN_DATA_DIR=str(tmp_path / "data"), DJANGO_SETTINGS_MODULE="swapadmin.settings"
    )
    done = subprocess.run(
        [sys.executable, str(MANAGE), "sqlmigrate", "core", "0010"],
        env=env, cwd=MANAGE.parent, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"CREATE INDEX {INDEX};" in done.stdout
