"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the alert mail tests: it keeps every mail
it accepts, or answers RCPT with a refusal; optionally STARTTLS with a certificate made here
and AUTH with one login. Started and stopped by ``smtp_server``, whatever the test did."""

from __future__ import annotations

import contextlib
import datetime
import email
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: Message
    login: str | None


@dataclass
class Inbox:
    """The handler: ``refuse`` is the reply to every RCPT (e.g. "550 5.1.1 no such user")."""

    refuse: str | None = None
    mails: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:  # fmt: skip
        if self.refuse:
            with self.arrived:
                self.refused.append(address)
                self.arrived.notify_all()
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        mail = Received(envelope.mail_from, list(envelope.rcpt_tos),
                        email.message_from_bytes(envelope.content), login)  # fmt: skip
        with self.arrived:
            self.mails.append(mail)
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Block until ``count`` mails have arrived (woken by each arrival); fail after
        ``timeout`` seconds."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.mails) >= count, timeout):
                raise AssertionError(f"{len(self.mails)} of {count} mails arrived in {timeout} s")
            return list(self.mails)


@dataclass
class Smtp:
    inbox: Inbox
    port: int
    cert: Path | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(where: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: trusted by a client only when
    given as its CA (SSL_CERT_FILE), as a private relay's certificate often is."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "swapadmin test relay")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = where / "relay.crt", where / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextlib.contextmanager
def smtp_server(
    refuse: str | None = None,
    *,
    starttls_in: Path | None = None,
    login: tuple[str, str] | None = None,
) -> Iterator[Smtp]:
    """A running server; with ``starttls_in`` (a directory for its certificate) it demands
    STARTTLS before anything else, and with ``login`` it demands AUTH with that login."""
    inbox = Inbox(refuse)
    options: dict[str, Any] = {}
    cert = None
    if starttls_in is not None:
        cert, key = self_signed(starttls_in)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        options.update(tls_context=context, require_starttls=True)
    if login is not None:

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                          auth_data: Any) -> AuthResult:  # fmt: skip
            ok = (
                isinstance(auth_data, LoginPassword)
                and (auth_data.login.decode(), auth_data.password.decode()) == login
            )
            # handled=False: aiosmtpd answers a refusal with 535 itself.
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        options.update(authenticator=authenticator, auth_required=True,
                       auth_require_tls=starttls_in is not None)  # fmt: skip
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield Smtp(inbox, controller.port, cert)
    finally:
        controller.stop()


def deliver_in_a_process(
    event_id: int, env: dict[str, str], *, final: bool = True
) -> subprocess.CompletedProcess[str]:
    """``notify.deliver`` in a ``manage.py shell`` whose settings come from ``env`` alone (no
    inherited EMAIL_* variable), on the test database: the rows must be committed."""
    from tests.fixtures.workers import REPO, test_database_url

    mine = ("SWAPADMIN_ALERT_EMAILS", "DEFAULT_FROM_EMAIL")
    full = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_") and k not in mine}
    full.update(
        DJANGO_SETTINGS_MODULE="swapadmin.settings",
        DATABASE_URL=test_database_url(),
        SWAPADMIN_WEBHOOK_URL="",
        **env,
    )
    code = f"from swapadmin.health.notify import deliver; print(deliver({event_id}, final={final}))"
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO, env=full, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
