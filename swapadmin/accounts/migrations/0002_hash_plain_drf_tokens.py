"""Existing DRF tokens (``drf_create_token``, stored in plain text in ``authtoken_token``)
keep working: each key becomes a knox digest, named so the tokens page says where it came
from, expiring 90 days from the upgrade so it is rotated like any other; then the plain
keys are deleted. The table itself is left empty (its app is no longer installed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import migrations
from django.utils import timezone

PLAIN_TABLE = "authtoken_token"
#: How long a migrated token keeps working: time to replace it in the scripts that use it.
MIGRATED_DAYS = 90
MIGRATED_NAME = "migrated from drf_create_token"


def hash_plain_tokens(apps: Any, schema_editor: Any) -> None:
    from knox.crypto import hash_token
    from knox.settings import CONSTANTS

    connection = schema_editor.connection
    if PLAIN_TABLE not in connection.introspection.table_names():
        return
    table = connection.ops.quote_name(PLAIN_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {table}")  # noqa: S608
        rows = cursor.fetchall()
    ApiToken = apps.get_model("accounts", "ApiToken")
    expiry = timezone.now() + timedelta(days=MIGRATED_DAYS)
    for key, user_id, created in rows:
        digest = hash_token(key)
        ApiToken.objects.bulk_create(
            [
                ApiToken(
                    digest=digest,
                    token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH],
                    user_id=user_id,
                    expiry=expiry,
                    name=MIGRATED_NAME,
                )
            ]
        )
        # ``created`` is auto_now_add: keep the key's own date, as the page shows it.
        ApiToken.objects.filter(pk=digest).update(created=created)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_api_token")]

    operations = [migrations.RunPython(hash_plain_tokens, migrations.RunPython.noop)]
