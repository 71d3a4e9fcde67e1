"""Create the first admin on first start and print the login once.

The password is SWAPADMIN_ADMIN_PASSWORD when set, otherwise a random one that is shown
only this time. A marker file in the data directory records that it was done, so later
starts print nothing and never change a password the admin has since changed.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandParser

USERNAME = "admin"


def marker_path() -> Any:
    return settings.DATA_DIR / "admin-created"


def _write_marker(marker: Any, text: str) -> None:
    """A new file, 0600, never through a link: runall runs this as root in a data directory
    that belongs to the account web and beat run as (a link planted there as the marker
    would have had root create a file wherever it points)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(marker, flags, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


class Command(BaseCommand):
    help = "Create the admin user on first start and print the login once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="", help="The URL to print with the login.")

    def handle(self, *args: Any, **options: Any) -> None:
        marker = marker_path()
        if os.path.lexists(marker):
            return
        password = settings.SWAPADMIN_ADMIN_PASSWORD or secrets.token_urlsafe(12)
        user = User.objects.filter(username=USERNAME).first()
        if user is not None:
            # Someone made it by hand: leave its password alone.
            _write_marker(marker, "existing\n")
            return
        user = User.objects.create_superuser(USERNAME, "", password)
        user.groups.add(Group.objects.get_or_create(name="admin")[0])
        _write_marker(marker, "created\n")
        url = options["url"]
        lines = ["", "swapadmin is ready" + (f" at {url}" if url else "") + "."]
        lines.append(f"  log in as: {USERNAME}")
        if settings.SWAPADMIN_ADMIN_PASSWORD:
            lines.append("  password:  the one in SWAPADMIN_ADMIN_PASSWORD")
        else:
            lines.append(f"  password:  {password}")
            lines.append("  (shown once: change it after you log in)")
        self.stdout.write("\n".join(lines) + "\n")
