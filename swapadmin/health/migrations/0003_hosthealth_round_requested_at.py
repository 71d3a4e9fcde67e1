from django.db import migrations, models

OLD = "Queue a check job for every backend of every online host."
NEW = "Ask every online host's worker for a round of checks of its backends (no job rows)."


def describe(apps, schema_editor):  # type: ignore[no-untyped-def]
    # Only where the description is still the default: an admin's own words stay.
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(description=OLD).update(description=NEW)


def undescribe(apps, schema_editor):  # type: ignore[no-untyped-def]
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(description=NEW).update(description=OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("health", "0002_default_schedule"),
    ]

    operations = [
        migrations.AddField(
            model_name="hosthealth",
            name="round_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(describe, undescribe),
    ]
