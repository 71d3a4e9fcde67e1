"""One webhook POST, made by a child process that holds nothing worth taking.

Notify tasks run on the ``control`` queue, and the only workers there are (``make run``'s,
compose's) are the hosts' root workers, whose environment holds the database and broker
passwords and SECRET_KEY. The request itself (name resolution, TLS, whatever a server an
admin named answers) is made instead by a fresh interpreter:

- fork and exec (``subprocess``): it inherits no database socket, no memory, no descriptor
  but its three pipes;
- as SWAPADMIN_WEBHOOK_USER (``nobody``) with no supplementary groups when started by
  root, and refused rather than sent as root when that user is missing or is root;
- with an empty environment (the proxy variables only), in isolated mode, in ``/``;
- running this file's own text, given on its command line, on the standard library only,
  so it needs no access to swapadmin's tree or virtualenv (hence ``urllib``, not a client
  library that the unprivileged user might not be able to import).

Only ``http`` and ``https`` are sent: refused where a target is configured (the setting,
the AlertChannel form), before the child starts, and in the child, whose opener has no
handler for another scheme and follows no redirect. Each socket operation is bounded by
the timeout, and the parent kills a child that outlives it (a name lookup that hangs).

This module must not import Django or swapadmin: the child runs it on its own.
"""

from __future__ import annotations

import http.client
import json
import os
import pwd
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

SCHEMES = ("http", "https")
#: What the child may still need from the environment: a proxy to reach the target.
PASSED_ENV = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
#: The child's start-up (an interpreter, urllib, ssl) on top of the request's own timeout.
START_GRACE_SECONDS = 5.0
#: Enough of an answer to know it was one; a webhook's response body means nothing to us.
READ_LIMIT = 64 * 1024
SYSTEM_PYTHON = "/usr/bin/python3"


class WebhookError(Exception):
    """Not delivered; the message says why, naming the target."""


@dataclass(frozen=True)
class Sent:
    status: int
    #: The user id the request was made as, for the log.
    uid: int


def url_problem(url: str) -> str | None:
    """Why ``url`` is no webhook target we send to, or None when it is one."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
    except ValueError as e:
        return f"{url!r} is not a URL: {e}"
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        given = f"{scheme}:" if scheme else "no scheme"
        return f"only http:// and https:// webhooks are sent; {url!r} has {given}"
    try:
        host = parts.hostname
    except ValueError as e:
        return f"{url!r} is not a URL: {e}"
    if not host:
        return f"{url!r} names no host"
    if parts.username is not None or parts.password is not None:
        # urllib would not send them as credentials, but look up "user:secret@host" as a
        # name (the secret to the resolver) and print it in its errors, which are kept.
        return (
            f"a webhook URL carries no user or password ({parts.scheme}://…@{host}): put the "
            "secret in the URL's path or query, which the receiving end checks"
        )
    return None


def check_url(url: str) -> None:
    problem = url_problem(url)
    if problem is not None:
        raise WebhookError(problem)


def _sender_user(name: str) -> pwd.struct_passwd | None:
    """Whom a root parent starts the child as; None when the parent is not root (the child
    then has the parent's own, already unprivileged, user)."""
    if os.geteuid() != 0:
        return None
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        raise WebhookError(
            f"no user {name!r} to send webhooks as: set SWAPADMIN_WEBHOOK_USER to an "
            "unprivileged account (webhooks are never sent as root)"
        ) from None
    if account.pw_uid == 0:
        raise WebhookError(
            f"SWAPADMIN_WEBHOOK_USER {name!r} is root: webhooks are never sent as root"
        )
    return account


def _interpreters() -> list[str]:
    """Pythons the child may be run by, best first: this one itself (not the virtualenv's
    link to it), then the system's, for when this one lives where the user may not go (a
    pyenv under /root). The child needs the standard library only."""
    return list(dict.fromkeys([os.path.realpath(sys.executable), SYSTEM_PYTHON]))


class _Drop(TypedDict, total=False):
    """subprocess.run's arguments that start the child as the unprivileged user."""

    user: int
    group: int
    extra_groups: list[int]


def _run_child(
    url: str, request: str, timeout: float, drop: _Drop
) -> subprocess.CompletedProcess[str]:
    refused: list[str] = []
    for python in _interpreters():
        try:
            return subprocess.run(  # noqa: S603 - our own code, no shell
                [python, "-I", "-c", Path(__file__).read_text()],
                input=request,
                capture_output=True,
                text=True,
                timeout=timeout + START_GRACE_SECONDS,
                env={k: v for k, v in os.environ.items() if k in PASSED_ENV},
                cwd="/",
                close_fds=True,
                **drop,
            )
        except subprocess.TimeoutExpired:
            raise WebhookError(f"{url} did not answer within {timeout:g} s") from None
        except OSError as e:  # this interpreter cannot be run as the user: try the next
            refused.append(f"{python}: {e.strerror or e}")
    raise WebhookError(f"the webhook sender could not start ({'; '.join(refused)})")


def send(url: str, body: bytes, timeout: float, user: str = "nobody") -> Sent:
    """POST ``body`` (JSON) to ``url`` from an unprivileged child; WebhookError if not 2xx."""
    check_url(url)
    account = _sender_user(user)
    drop: _Drop = (
        {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        if account is not None
        else {}
    )
    request = json.dumps({"url": url, "body": body.decode(), "timeout": timeout})
    done = _run_child(url, request, timeout, drop)
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise WebhookError(f"the webhook sender failed: {last}") from None
    if answer.get("error"):
        raise WebhookError(answer["error"])
    return Sent(status=int(answer["status"]), uid=int(answer["uid"]))


# ---- the child ----


def _opener() -> urllib.request.OpenerDirector:
    """http and https only, and no redirect handler: a 3xx is an error, never a new target
    (urllib's default opener would follow one to ftp:, and also reads file: and data:)."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def post(url: str, body: bytes, timeout: float) -> int:
    """The POST itself, in this process; the answer's status, or WebhookError."""
    check_url(url)
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", "User-Agent": "swapadmin"},
        method="POST",
    )
    try:
        with _opener().open(request, timeout=timeout) as response:
            response.read(READ_LIMIT)
            return int(response.status)
    except urllib.error.HTTPError as e:
        why = " (redirects are not followed)" if 300 <= e.code < 400 else ""
        raise WebhookError(f"{url} answered {e.code} {e.reason}{why}") from None
    except urllib.error.URLError as e:
        raise WebhookError(f"{url} could not be reached: {e.reason}") from None
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise WebhookError(f"{url} could not be reached: {e}") from None


def main() -> None:
    """Read {url, body, timeout} on stdin, POST, write {status | error, uid} on stdout."""
    request = json.load(sys.stdin)
    answer: dict[str, object] = {"uid": os.getuid()}
    try:
        answer["status"] = post(request["url"], request["body"].encode(), request["timeout"])
    except WebhookError as e:
        answer["error"] = str(e)
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
