"""``manage.py forget-machine NAME``: let another machine become host NAME.

A host is the machine whose worker registered it; a worker on any other machine that
calls itself NAME refuses to start. When the machine is really replaced (reinstalled, its
disk moved to new hardware), an admin runs this: the next worker to start as NAME
registers its own machine id. Audited, like every change.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from swapadmin.core.models import Host
from swapadmin.core.services import Actor, audit


class Command(BaseCommand):
    help = "Forget which machine registered host NAME, so that the next worker named so may."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the host's name (SWAPADMIN_HOST of its worker)")

    def handle(self, *args: Any, **options: Any) -> None:
        host = Host.objects.filter(name=options["name"]).first()
        if host is None:
            raise CommandError(f"no host named {options['name']!r}")
        old = host.machine_id
        Host.objects.filter(pk=host.pk).update(machine_id="")
        audit(Actor.system(), "forget-machine", host, "ok", {"machine_id": old})
        self.stdout.write(
            f"host {host.name} no longer belongs to machine {old or '(none recorded)'}; the next "
            "worker started with that name registers its own machine"
        )
