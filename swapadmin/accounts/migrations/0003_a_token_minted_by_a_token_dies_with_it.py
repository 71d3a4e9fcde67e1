"""Tokens remember the token that made them (``parent``) and are deleted with it, so revoking
a stolen token also revokes whatever it minted. Existing tokens get no parent: which token
made them was never recorded."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_hash_plain_drf_tokens")]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="children",
                to="accounts.apitoken",
            ),
        ),
    ]
