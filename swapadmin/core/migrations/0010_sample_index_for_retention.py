"""Sample's indexes for a year of a large fleet: retention's deletes (a resolution's rows
older than its keep time) get an index on (resolution, at), and the host's own index goes,
since (host, resolution, at) leads with the host: each sample still maintains three
indexes, not four. docs/BENCHMARKS-control-plane.md, table 4, has the sizes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0009_host_snapshot_columns"),
    ]

    operations = [
        migrations.AlterField(
            model_name="sample",
            name="host",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="samples",
                to="core.host",
            ),
        ),
        migrations.AddIndex(
            model_name="sample",
            index=models.Index(fields=["resolution", "at"], name="core_sample_resolution_at"),
        ),
    ]
