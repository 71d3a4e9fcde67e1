"""The beat schedule of the health app, as django-celery-beat rows: an admin can change the
interval (or disable a task) in the admin, and beat's DatabaseScheduler picks the change up
without a restart. The rows are created once, by migration; later edits are the admin's."""

from __future__ import annotations

from typing import Any

CHECKS_TASK = "swapadmin.health.schedule_checks"
OFFLINE_TASK = "swapadmin.health.mark_offline_hosts"
#: Sent by CHECKS_TASK to each host's own queue (``host.<name>``): that host's round.
HOST_ROUND_TASK = "swapadmin.health.check_host"

#: name -> (task, every, period, description)
DEFAULTS: dict[str, tuple[str, int, str, str]] = {
    "health: check every backend": (
        CHECKS_TASK,
        1,
        "minutes",
        "Ask every online host's worker for a round of checks of its backends (no job rows).",
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
