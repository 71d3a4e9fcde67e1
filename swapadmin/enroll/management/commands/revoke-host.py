"""``manage.py revoke-host NAME``: cut a host off now (database and broker)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from swapadmin.core.models import Host
from swapadmin.core.services import Actor

from ...services import EnrolError, revoke


class Command(BaseCommand):
    help = "Revoke a host's credentials: no new connection, open sessions ended."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        host = Host.objects.filter(name=options["name"]).first()
        if host is None:
            raise CommandError(f"no host named {options['name']!r}")
        try:
            roles = revoke(host, Actor.system())
        except EnrolError as e:
            raise CommandError(str(e)) from None
        if not roles:
            raise CommandError(f"host {host.name} has no live credential; nothing was changed")
        self.stdout.write(f"revoked host {host.name}: {', '.join(roles)}")
