"""Outgoing mail (health alerts) configured from the environment.

One ``EMAIL_URL`` (parsed by dj-email-url, the sibling of the dj-database-url that reads
DATABASE_URL), and the usual ``EMAIL_HOST``, ``EMAIL_PORT``, ``EMAIL_HOST_USER``,
``EMAIL_HOST_PASSWORD`` (or ``EMAIL_HOST_PASSWORD_FILE``), ``EMAIL_USE_TLS``,
``EMAIL_USE_SSL``, ``EMAIL_TIMEOUT``; a variable set beside the URL overrides that part of
it, so the password can stay out of the URL, in a file. With an SMTP host configured and no
explicit ``EMAIL_BACKEND``, mail goes out by SMTP; with nothing configured, to the console.
A value that cannot work fails at start with the variable named, never at the first alert.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

import dj_email_url

from swapadmin.env import SettingError, envbool, envfloat, envint, envstr

__all__ = ["email_settings"]

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"
#: EMAIL_URL's schemes. "smtps" is refused: dj-email-url (and django-environ) read it as
#: STARTTLS, most mail tools as TLS from the first byte on port 465; guessing wrong means no
#: alert ever arrives, so the URL says which with ?ssl=True or submission://.
SCHEMES = ("smtp", "submission", "submit", "console", "file", "memory", "dummy")
#: A server that accepts the connection and never answers must not hold the control
#: worker's notify task for ever (Django's default is no timeout at all).
DEFAULT_TIMEOUT = 10.0


def email_settings(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Django EMAIL_* settings (and DEFAULT_FROM_EMAIL) that ``environ`` describes
    (default: this process's environment). Raises SettingError naming a bad variable."""
    url = _url_settings(envstr("EMAIL_URL", environ=environ))

    def given(name: str) -> bool:
        return bool(envstr(name, environ=environ))

    use_ssl = envbool("EMAIL_USE_SSL", str(url.get("EMAIL_USE_SSL", False)), environ=environ)
    use_tls = envbool("EMAIL_USE_TLS", str(url.get("EMAIL_USE_TLS", False)), environ=environ)
    if use_ssl and use_tls:
        raise SettingError(
            "EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be True: TLS means STARTTLS on a "
            "plain connection (usually port 587), SSL means TLS from the first byte (465)"
        )
    host = envstr("EMAIL_HOST", environ=environ) or url.get("EMAIL_HOST") or "localhost"
    port = envint("EMAIL_PORT", url.get("EMAIL_PORT") or _default_port(use_ssl, use_tls),
                  environ=environ)  # fmt: skip
    if not 0 < port < 65536:
        raise SettingError(f"EMAIL_PORT must be a port number (1 to 65535), not {port}")
    timeout = envfloat("EMAIL_TIMEOUT", url.get("EMAIL_TIMEOUT") or DEFAULT_TIMEOUT,
                       environ=environ)  # fmt: skip
    if timeout <= 0:
        raise SettingError(f"EMAIL_TIMEOUT must be a number of seconds above 0, not {timeout}")
    backend = (
        envstr("EMAIL_BACKEND", environ=environ)
        or url.get("EMAIL_BACKEND")
        or (SMTP_BACKEND if given("EMAIL_HOST") else CONSOLE_BACKEND)
    )
    return {
        "EMAIL_BACKEND": backend,
        "EMAIL_HOST": host,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": envstr("EMAIL_HOST_USER", environ=environ)
        or url.get("EMAIL_HOST_USER")
        or "",
        "EMAIL_HOST_PASSWORD": envstr("EMAIL_HOST_PASSWORD", environ=environ)
        or url.get("EMAIL_HOST_PASSWORD")
        or "",
        "EMAIL_USE_TLS": use_tls,
        "EMAIL_USE_SSL": use_ssl,
        "EMAIL_TIMEOUT": timeout,
        "EMAIL_FILE_PATH": url.get("EMAIL_FILE_PATH") or None,
        "DEFAULT_FROM_EMAIL": envstr("DEFAULT_FROM_EMAIL", environ=environ)
        or url.get("DEFAULT_FROM_EMAIL")
        or "swapadmin@localhost",
    }


def _default_port(use_ssl: bool, use_tls: bool) -> int:
    # A TLS handshake sent to port 25 never succeeds: each way has its own port.
    return 465 if use_ssl else 587 if use_tls else 25


def _url_settings(url: str | None) -> dict[str, Any]:
    """dj-email-url's reading of ``url``, with what it lets pass silently refused: an unknown
    scheme (no backend at all), ``smtps`` (see SCHEMES), both ssl and tls asked for (it
    keeps ssl). Messages never repeat the URL, which may hold a password."""
    if not url:
        return {}
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "smtps":
        raise SettingError(
            "EMAIL_URL: the scheme smtps:// is ambiguous; write smtp://HOST:465/?ssl=True for "
            "TLS from the first byte, or submission://HOST (STARTTLS, port 587)"
        )
    if parts.scheme not in SCHEMES:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise SettingError(f"EMAIL_URL: unknown scheme {parts.scheme!r}; use one of {known}")
    query = urllib.parse.parse_qs(parts.query)
    if all(query.get(k, [""])[0] in dj_email_url.TRUTHY for k in ("ssl", "tls")):
        raise SettingError("EMAIL_URL: ?ssl and ?tls cannot both be on; choose one")
    try:
        conf: dict[str, Any] = dj_email_url.parse(url)
        explicit_port = parts.port
    except ValueError as e:  # a port or timeout that is not a number
        raise SettingError(f"EMAIL_URL is not a usable mail URL: {e}") from None
    if explicit_port is None:
        del conf["EMAIL_PORT"]  # its 25 for smtp://HOST/?ssl=True would never connect
    return conf
