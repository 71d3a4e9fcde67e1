"""Make an API token for a user and print its secret, once (the database keeps a digest).

    manage.py create-token USER [--name NAME] [--days N]

Standard output is the secret alone, for scripts (``TOKEN=$(manage.py create-token ...)``);
what it is and when it expires goes to standard error."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from swapadmin.accounts import tokens
from swapadmin.accounts.models import MAX_DAYS
from swapadmin.core import services
from swapadmin.core.models import Job


class Command(BaseCommand):
    help = "Create an API token for USER and print its secret (shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="manage.py create-token", help="what uses it")
        parser.add_argument(
            "--days", type=int, default=30, help=f"days until it expires (1 to {MAX_DAYS})"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r}")
        actor = services.Actor(None, Job.Via.SYSTEM)
        try:
            token, secret = tokens.create(user, options["name"], options["days"], actor)
        except services.InvalidRequest as e:
            raise CommandError(str(e)) from None
        self.stderr.write(
            f"Token {token.name!r} for {user.get_username()}, expires "
            f"{token.expiry:%Y-%m-%d %H:%M} UTC. The secret is shown only now:"
        )
        self.stdout.write(secret)
