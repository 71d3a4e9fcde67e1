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

import email.utils
import math
import os
import re
import stat
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
#: Schemes that talk to a mail server, so need one named.
SMTP_SCHEMES = ("smtp", "submission", "submit")
#: EMAIL_URL's query keys (dj-email-url's); any other is a typo that would pass silently,
#: and ``?tsl=True`` sends the password in clear.
QUERY_KEYS = ("ssl", "tls", "timeout", "_default_from_email", "_server_email")
FALSY = ("0", "n", "N", "no", "No", "NO", "f", "F", "false", "False", "FALSE", "off", "Off",
         "OFF")  # fmt: skip
#: A password file is a few bytes; reading /dev/zero or a log named by mistake would never end.
PASSWORD_FILE_MAX = 4096


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
    if host.startswith("[") and host.endswith("]"):  # an IPv6 address as a URL writes it
        host = host[1:-1]
    if url.get("needs_host") and not url.get("EMAIL_HOST") and not given("EMAIL_HOST"):
        # dj-email-url would read smtp://user:pass@ as localhost: the password sent to
        # whatever listens there, when the sysadmin only forgot the host.
        raise SettingError("EMAIL_URL names no mail server: write smtp://HOST (or set EMAIL_HOST)")
    if not _printable(host) or " " in host:
        raise SettingError("EMAIL_HOST (or the host in EMAIL_URL) must be a host name or "
                           "address, without spaces or control characters")  # fmt: skip
    port = envint("EMAIL_PORT", url.get("EMAIL_PORT") or _default_port(use_ssl, use_tls),
                  environ=environ)  # fmt: skip
    if not 0 < port < 65536:
        raise SettingError(f"EMAIL_PORT must be a port number (1 to 65535), not {port}")
    timeout = envfloat("EMAIL_TIMEOUT", url.get("EMAIL_TIMEOUT") or DEFAULT_TIMEOUT,
                       environ=environ)  # fmt: skip
    if not (math.isfinite(timeout) and timeout > 0):  # inf (or 1e400) is no timeout at all
        raise SettingError(f"EMAIL_TIMEOUT must be a number of seconds above 0, not {timeout}")
    backend = (
        envstr("EMAIL_BACKEND", environ=environ)
        or url.get("EMAIL_BACKEND")
        or (SMTP_BACKEND if given("EMAIL_HOST") else CONSOLE_BACKEND)
    )
    user = envstr("EMAIL_HOST_USER", environ=environ) or url.get("EMAIL_HOST_USER") or ""
    password = _password(environ) or url.get("EMAIL_HOST_PASSWORD") or ""
    _check_login(user, password)
    from_email = (
        envstr("DEFAULT_FROM_EMAIL", environ=environ)
        or url.get("DEFAULT_FROM_EMAIL")
        or "swapadmin@localhost"
    )
    _check_from(from_email)
    return {
        "EMAIL_BACKEND": backend,
        "EMAIL_HOST": host,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": user,
        "EMAIL_HOST_PASSWORD": password,
        "EMAIL_USE_TLS": use_tls,
        "EMAIL_USE_SSL": use_ssl,
        "EMAIL_TIMEOUT": timeout,
        "EMAIL_FILE_PATH": url.get("EMAIL_FILE_PATH") or None,
        "DEFAULT_FROM_EMAIL": from_email,
    }


def _default_port(use_ssl: bool, use_tls: bool) -> int:
    # A TLS handshake sent to port 25 never succeeds: each way has its own port.
    return 465 if use_ssl else 587 if use_tls else 25


def _printable(text: str) -> bool:
    return all(c.isprintable() for c in text)


def _password(environ: Mapping[str, str] | None) -> str:
    """EMAIL_HOST_PASSWORD, or the first line of the file EMAIL_HOST_PASSWORD_FILE names:
    a regular file of at most PASSWORD_FILE_MAX bytes (a FIFO or /dev/zero would hang the
    start, a directory or a big file is a wrong path). Messages never show its content."""
    env = os.environ if environ is None else environ
    path = env.get("EMAIL_HOST_PASSWORD_FILE")
    if not path:
        return env.get("EMAIL_HOST_PASSWORD") or ""
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not wait for one.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise SettingError(f"EMAIL_HOST_PASSWORD_FILE: cannot read {path}: {e.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SettingError(f"EMAIL_HOST_PASSWORD_FILE: {path} is not a regular file")
        data = os.read(fd, PASSWORD_FILE_MAX + 1)
    finally:
        os.close(fd)
    if len(data) > PASSWORD_FILE_MAX:
        raise SettingError(
            f"EMAIL_HOST_PASSWORD_FILE: {path} is over {PASSWORD_FILE_MAX} bytes, "
            "not a password file"
        )
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise SettingError(f"EMAIL_HOST_PASSWORD_FILE: {path} is not text") from None
    lines = text.strip().splitlines()
    if len(lines) > 1:
        raise SettingError(f"EMAIL_HOST_PASSWORD_FILE: {path} holds more than one line")
    return lines[0] if lines else ""


def _check_login(user: str, password: str) -> None:
    """smtplib sends the login as ASCII (AUTH PLAIN, LOGIN and CRAM-MD5 alike): any other
    character fails every delivery with a UnicodeEncodeError, never at start."""
    for name, value in (("EMAIL_HOST_USER", user), ("EMAIL_HOST_PASSWORD", password)):
        if not (value.isascii() and _printable(value)):
            raise SettingError(
                f"{name} (or the login in EMAIL_URL) may hold printable ASCII characters "
                "only: the mail client sends it as ASCII, anything else can never log in"
            )


def _check_from(from_email: str) -> None:
    """A From Django refuses (a newline) or that is not an address fails every alert."""
    _, address = email.utils.parseaddr(from_email)
    if not _printable(from_email) or "@" not in address.strip("@"):
        raise SettingError(
            f"DEFAULT_FROM_EMAIL (or ?_default_from_email in EMAIL_URL) is not an address: "
            f"{from_email!r}"
        )


def _url_settings(url: str | None) -> dict[str, Any]:
    """dj-email-url's reading of ``url``, with what it lets pass silently refused: an unknown
    scheme (no backend at all), ``smtps`` (see SCHEMES), an unknown query key or a boolean
    it does not know (read as False), ssl and tls both asked for, a path where an unencoded
    / ? or # in the password cut the URL short. Messages never repeat the URL, nor any part
    of it that may be the password."""
    if not url:
        return {}
    if not _printable(url):  # urllib drops a newline or tab silently, changing the host
        raise SettingError("EMAIL_URL holds a control character (a newline, a tab)")
    try:
        parts = urllib.parse.urlsplit(url)
        explicit_port = parts.port
    except ValueError as e:
        return _refuse_url(url, str(e))
    scheme = parts.scheme.lower()
    if scheme == "smtps":
        raise SettingError(
            "EMAIL_URL: the scheme smtps:// is ambiguous; write smtp://HOST:465/?ssl=True for "
            "TLS from the first byte, or submission://HOST (STARTTLS, port 587)"
        )
    if scheme not in SCHEMES:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise SettingError(f"EMAIL_URL: unknown scheme {parts.scheme!r}; use one of {known}")
    if _cut_short(parts):
        _refuse_url(url, "")
    if scheme in SMTP_SCHEMES and parts.path not in ("", "/"):
        raise SettingError("EMAIL_URL: a mail server URL has no path (after HOST:PORT)")
    if explicit_port == 0:
        raise SettingError("EMAIL_URL: the port must be a port number (1 to 65535), not 0")
    query = _query(parts.query)
    try:  # the query is read above, strictly; dj-email-url's reading of it is lax
        conf: dict[str, Any] = dj_email_url.parse(parts._replace(query="").geturl())
    except ValueError as e:  # unreachable after the checks above; never show its words
        raise SettingError(f"EMAIL_URL is not a usable mail URL ({type(e).__name__})") from None
    if "ssl" in query or "tls" in query:
        # dj-email-url reads only the first of ssl and tls present: ?ssl=False&tls=True
        # would be plain text.
        conf["EMAIL_USE_SSL"] = query.get("ssl", False)
        conf["EMAIL_USE_TLS"] = query.get("tls", scheme in ("submission", "submit") and
                                          not conf["EMAIL_USE_SSL"])  # fmt: skip
    if "timeout" in query:
        conf["EMAIL_TIMEOUT"] = query["timeout"]
    if "_default_from_email" in query:
        conf["DEFAULT_FROM_EMAIL"] = query["_default_from_email"]
    if explicit_port is None:
        del conf["EMAIL_PORT"]  # its 25 for smtp://HOST/?ssl=True would never connect
    if scheme in SMTP_SCHEMES:
        conf["needs_host"] = True
        # Not dj-email-url's "localhost"; unquoted, as [fe80::1%25eth0] means zone eth0.
        conf["EMAIL_HOST"] = urllib.parse.unquote(parts.hostname or "") or None
    return conf


def _refuse_url(url: str, why: str) -> dict[str, Any]:
    """Refuse a URL whose authority does not parse, saying why only when that cannot be
    the password: with no @ before the host, an unencoded / ? or # in the password ended
    the authority early, and the "port" urllib complains about is the password's start."""
    netloc = re.split(r"[/?#]", url.partition("//")[2], maxsplit=1)[0]
    shown = f": {why}" if why and ("@" in netloc or "@" not in url) else ""
    raise SettingError(
        f"EMAIL_URL is not a usable mail URL{shown}; in the login, write @ as %40, : as %3A, "
        "/ as %2F, ? as %3F, # as %23, [ and ] as %5B and %5D"
    )


def _cut_short(parts: urllib.parse.SplitResult) -> bool:
    """An @ after the authority (outside a From address in the query): the login held an
    unencoded / ? or #, so the host dj-email-url would use is a piece of the login."""
    froms = ("_default_from_email", "_server_email")
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    in_query = any("@" in k or ("@" in v and k not in froms) for k, v in pairs)
    return "@" not in parts.netloc and ("@" in parts.path + parts.fragment or in_query)


def _query(query: str) -> dict[str, Any]:
    """EMAIL_URL's query, each key once and known, booleans and the timeout checked."""
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise SettingError("EMAIL_URL: the query (after ?) is not key=value&key=value") from None
    keys = [k for k, _ in pairs]
    for key in keys:
        if key not in QUERY_KEYS:
            known = ", ".join(QUERY_KEYS)
            raise SettingError(f"EMAIL_URL: unknown query key {key!r}; known: {known}")
        if keys.count(key) > 1:
            raise SettingError(f"EMAIL_URL: the query key {key!r} is given twice")
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in ("ssl", "tls"):
            if value not in dj_email_url.TRUTHY + FALSY:
                raise SettingError(f"EMAIL_URL: ?{key} must be True or False, not {value!r}")
            found[key] = value in dj_email_url.TRUTHY
        elif key == "timeout":
            try:
                found[key] = float(value)
            except ValueError:
                raise SettingError(f"EMAIL_URL: ?timeout must be a number, not {value!r}") from None
            if not (math.isfinite(found[key]) and found[key] > 0):
                raise SettingError(f"EMAIL_URL: ?timeout must be seconds above 0, not {value!r}")
        else:
            found[key] = value
    if found.get("ssl") and found.get("tls"):
        raise SettingError("EMAIL_URL: ?ssl and ?tls cannot both be on; choose one")
    return found
