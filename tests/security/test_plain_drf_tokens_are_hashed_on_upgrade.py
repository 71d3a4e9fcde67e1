"""An upgrade from plain DRF tokens (``drf_create_token``, keys in ``authtoken_token``): the
migration turns each key into a digest, so scripts keep working with the key they have,
and deletes the plain keys. A migrated token expires, like any other, 90 days on."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from rest_framework.test import APIClient

from swapadmin.accounts.models import ApiToken

migration = importlib.import_module("swapadmin.accounts.migrations.0002_hash_plain_drf_tokens")


def run_migration() -> None:
    """The data migration's function with the models as they are at that migration."""
    state = MigrationLoader(connection).project_state(("accounts", "0001_api_token"))
    with connection.schema_editor() as editor:
        migration.hash_plain_tokens(state.apps, editor)


KEY = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # DRF's shape: 40 hex characters


@pytest.fixture
def plain_table(db: None) -> Iterator[None]:
    """``authtoken_token`` as DRF's authtoken app made it (that app is no longer installed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamp with time zone NOT NULL, user_id integer NOT NULL)"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE authtoken_token")


def test_an_old_key_keeps_working_and_is_no_longer_stored(plain_table: None, victor: User) -> None:
    made = timezone.now() - timedelta(days=400)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
            [KEY, made, victor.pk],
        )
    assert APIClient(HTTP_AUTHORIZATION=f"Token {KEY}").get("/api/v1/hosts/").status_code == 401

    run_migration()

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
    token = ApiToken.objects.get(user=victor)
    assert token.name == "migrated from drf_create_token"
    assert token.created == made
    assert abs(token.expiry - (timezone.now() + timedelta(days=90))) < timedelta(minutes=1)
    assert KEY not in (token.digest, token.token_key)
    assert APIClient(HTTP_AUTHORIZATION=f"Token {KEY}").get("/api/v1/hosts/").status_code == 200


def test_a_database_that_never_had_drf_tokens_is_left_alone(db: None) -> None:
    run_migration()
    assert not ApiToken.objects.exists()
