"""``manage.py signing-key --public``: the key a host's worker verifies jobs with.

Run it where jobs are created (the web container, or ``make run``'s machine): it prints the
public half of ``SWAPADMIN_SIGNING_KEY`` as one line of base64, for ``SWAPADMIN_VERIFY_KEY``
in each host's ``worker.env``. ``--generate PATH`` writes a new private key (PEM, mode
0600, never over an existing file) for ``SWAPADMIN_SIGNING_KEY_FILE``. The private key is
never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from swapadmin.core import signing
from swapadmin.secretfiles import read_or_create_secret


class Command(BaseCommand):
    help = "Print the public key workers verify job signatures with, or generate a signing key."

    def add_arguments(self, parser: CommandParser) -> None:
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument(
            "--public",
            action="store_true",
            help="print SWAPADMIN_VERIFY_KEY for the hosts' worker.env",
        )
        what.add_argument(
            "--generate",
            metavar="PATH",
            help="write a new Ed25519 private key to PATH (refused if PATH exists)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["generate"]:
            self._generate(Path(options["generate"]))
            return
        try:
            key = signing.signing_key()
        except (OSError, ValueError) as e:
            raise CommandError(f"SWAPADMIN_SIGNING_KEY cannot be read: {e}") from None
        if key is None:
            raise CommandError(
                "this process has no signing key: set SWAPADMIN_SIGNING_KEY_FILE (make one "
                "with `manage.py signing-key --generate PATH`), or run this where jobs are "
                "created"
            )
        self.stdout.write(f"SWAPADMIN_VERIFY_KEY={signing.public_key_line(key.public_key())}")

    def _generate(self, path: Path) -> None:
        if path.exists() or path.is_symlink():
            raise CommandError(f"{path} exists; a signing key is never overwritten")
        read_or_create_secret(path, signing.new_private_key_pem)
        self.stdout.write(f"wrote a new signing key to {path} (mode 0600)")
