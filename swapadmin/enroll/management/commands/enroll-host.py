"""``manage.py enroll-host NAME``: a new host's own database role and broker user, and the
worker.env that holds them (printed once; the passwords are kept nowhere else)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from swapadmin.core.services import Actor

from ...services import EnrolError, enroll


class Command(BaseCommand):
    help = "Enrol a host: create its database role and broker user, print its worker.env."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the host's name (its worker's SWAPADMIN_HOST)")
        parser.add_argument("--database-host", help="the database's address as the host reaches it")
        parser.add_argument("--broker-host", help="the broker's address as the host reaches it")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            enrolment = enroll(
                options["name"],
                Actor.system(),
                database_host=options["database_host"],
                broker_host=options["broker_host"],
            )
        except EnrolError as e:
            raise CommandError(str(e)) from None
        self.stdout.write(enrolment.worker_env(), ending="")
