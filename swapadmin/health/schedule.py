"""The beat schedule of the health app, as django-celery-beat rows: an admin can change the
interval (or disable a task) in the admin, and beat's DatabaseScheduler picks the change up
without a restart. The rows are created once, by migration; later edits are the admin's."""

from __future__ import annotations

from typing import Any

CHECKS_TASK = "swapadmin.health.schedule_checks"
OFFLINE_TASK = "swapadmin.health.mark_offline_hosts"

#: name -> (task, every, period, description)
DEFAULTS: dict[str, tuple[str, int, str, str]] = {
    "health: check every backend": (
        CHECKS_TASK,
        1,
        "minutes",
        "Queue a check job for every backend of every online host.",
    ),
    "health: mark hosts offline": (
        OFFLINE_TASK,
        15,
        "seconds",
        "Raise an event for each host whose worker stopped (or resumed) sending heartbeats.",
    ),
}


def ensure_schedule(interval_model: Any, task_model: Any) -> None:
    """Create the default periodic tasks that do not exist yet; never change existing ones.
    Takes the models so that a migration can pass its historical ones."""
    for name, (task, every, period, description) in DEFAULTS.items():
        if task_model.objects.filter(name=name).exists():
            continue
        interval, _ = interval_model.objects.get_or_create(every=every, period=period)
        task_model.objects.create(
            name=name,
            task=task,
            interval=interval,
            queue="control",
            description=description,
            enabled=True,
        )
