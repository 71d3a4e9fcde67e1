"""The latest snapshot's figures as generated columns of Host, so the overview pages, sorts
and adds up a fleet of 5,000 without reading every host's jsonb. PostgreSQL and SQLite
compute them for the rows already there."""

from django.db import migrations, models

import swapadmin.core.models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0008_sample_backends_peak"),
    ]

    operations = [
        migrations.AddField(
            model_name="host",
            name="snap_mem_available",
            field=models.GeneratedField(
                db_persist=True,
                expression=swapadmin.core.models.SnapshotFigure("meminfo", "mem_available"),
                output_field=models.BigIntegerField(),
            ),
        ),
        migrations.AddField(
            model_name="host",
            name="snap_mem_total",
            field=models.GeneratedField(
                db_persist=True,
                expression=swapadmin.core.models.SnapshotFigure("meminfo", "mem_total"),
                output_field=models.BigIntegerField(),
            ),
        ),
        migrations.AddField(
            model_name="host",
            name="snap_pswpin_rate",
            field=models.GeneratedField(
                db_persist=True,
                expression=swapadmin.core.models.SnapshotFigure("rates", "pswpin", integer=False),
                output_field=models.FloatField(),
            ),
        ),
        migrations.AddField(
            model_name="host",
            name="snap_pswpout_rate",
            field=models.GeneratedField(
                db_persist=True,
                expression=swapadmin.core.models.SnapshotFigure("rates", "pswpout", integer=False),
                output_field=models.FloatField(),
            ),
        ),
        migrations.AddField(
            model_name="host",
            name="snap_swap_total",
            field=models.GeneratedField(
                db_persist=True,
                expression=swapadmin.core.models.SnapshotFigure("meminfo", "swap_total"),
                output_field=models.BigIntegerField(),
            ),
        ),
        migrations.AddField(
            model_name="host",
            name="snap_swap_used",
            field=models.GeneratedField(
                db_persist=True,
                expression=swapadmin.core.models.SwapUsed(),
                output_field=models.BigIntegerField(),
            ),
        ),
    ]
