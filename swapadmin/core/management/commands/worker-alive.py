"""``manage.py worker-alive``: exit 0 when this host's worker has heartbeated lately.

The container health check of a worker. It asks the database (what every page reads), not
the worker over the broker: remote control of workers is off unless configured
(SWAPADMIN_WORKER_REMOTE_CONTROL), so a message on the broker cannot stop a host's worker or
change its pool.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import DateTimeField, ExpressionWrapper
from django.db.models.functions import Now

from swapadmin.core.models import Host


class Command(BaseCommand):
    help = "Exit 0 if this host's worker (SWAPADMIN_HOST) heartbeated within the offline bound."

    def handle(self, *args: Any, **options: Any) -> None:
        bound = timedelta(seconds=settings.SWAPADMIN_OFFLINE_AFTER_SECONDS)
        recent = ExpressionWrapper(Now() - bound, output_field=DateTimeField())
        name = settings.SWAPADMIN_HOST
        if not Host.objects.filter(name=name, last_heartbeat__gte=recent).exists():
            raise CommandError(f"no heartbeat from the worker of {name} in {bound.seconds} s")
        self.stdout.write(f"the worker of {name} is alive")
