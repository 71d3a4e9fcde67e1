from django.conf import settings
from django.db import migrations

#: name -> (task, every seconds, description). Created once; later edits are the admin's.
SCHEDULE = {
    "control: sweep jobs and hosts": (
        "swapadmin.core.sweep",
        int(settings.SWAPADMIN_SWEEP_SECONDS),
        "Fail jobs whose worker stopped, send again jobs that never reached the broker.",
    ),
    "control: sample retention": (
        "swapadmin.core.retention",
        300,
        "Roll raw samples into minute and hour averages; delete old ones.",
    ),
}


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, (task, every, description) in SCHEDULE.items():
        if task_model.objects.filter(name=name).exists():
            continue
        interval, _ = interval_model.objects.get_or_create(every=every, period="seconds")
        task_model.objects.create(
            name=name,
            task=task,
            interval=interval,
            queue="control",
            description=description,
            enabled=True,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
