"""Create the first admin on first start and print the login once.

The password is SWAPADMIN_ADMIN_PASSWORD when set, otherwise a random one that is shown
only this time. A marker file in the data directory records that it was done, so later
starts print nothing and never change a password the admin has since changed.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandParser

USERNAME = "admin"


def marker_path() -> Any:
    return settings.DATA_DIR / "admin-created"


class Command(BaseCommand):
    help = "Create the admin user on first start and print the login once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="", help="The URL to print with the login.")

    def handle(self, *args: Any, **options: Any) -> None:
        marker = marker_path()
        if marker.exists():
            return
        password = settings.SWAPADMIN_ADMIN_PASSWORD or secrets.token_urlsafe(12)
        user = User.objects.filter(username=USERNAME).first()
        if user is not None:
            # Someone made it by hand: leave its password alone.
            marker.write_text("existing\n")
            return
        user = User.objects.create_superuser(USERNAME, "", password)
        user.groups.add(Group.objects.get_or_create(name="admin")[0])
        marker.write_text("created\n")
        marker.chmod(0o600)
        url = options["url"]
        lines = ["", "swapadmin is ready" + (f" at {url}" if url else "") + "."]
        lines.append(f"  log in as: {USERNAME}")
        if settings.SWAPADMIN_ADMIN_PASSWORD:
            lines.append("  password:  the one in SWAPADMIN_ADMIN_PASSWORD")
        else:
            lines.append(f"  password:  {password}")
            lines.append("  (shown once: change it after you log in)")
        self.stdout.write("\n".join(lines) + "\n")
