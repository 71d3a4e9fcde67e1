"""Notifications of health events: a JSON POST to each webhook and a mail to each address.

Targets are the settings (SWAPADMIN_WEBHOOK_URL, SWAPADMIN_ALERT_EMAILS) plus the enabled
``AlertChannel`` rows from the admin. One task delivers one event to every target and is
retried with exponential back-off while some target fails; a target that answered is never
sent the event again, so a retry only repeats what failed. Webhooks are http or https
only and are posted by an unprivileged child process (``webhook``), since this task runs
in a root worker.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
from datetime import timedelta
from functools import partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from backends.errors import printable
from swapadmin.core.observe import said

from . import webhook
from .models import AlertChannel, HealthEvent
from .probes import setting

log = logging.getLogger(__name__)

NOTIFY_TASK = "swapadmin.health.notify_event"


class DeliveryError(Exception):
    pass


def targets() -> list[str]:
    """Every target as ``webhook:<url>`` or ``email:<address>``, each once."""
    found: list[str] = []
    if settings.SWAPADMIN_WEBHOOK_URL:
        found.append(f"webhook:{settings.SWAPADMIN_WEBHOOK_URL}")
    found += [f"email:{a}" for a in settings.SWAPADMIN_ALERT_EMAILS]
    for kind, target in AlertChannel.objects.filter(enabled=True).values_list("kind", "target"):
        found.append(f"{kind}:{target}")
    return list(dict.fromkeys(found))


def payload(event: HealthEvent) -> dict[str, Any]:
    """The JSON body a webhook receives."""
    backend = event.backend
    return {
        "event": str(event.uuid),
        "kind": event.kind,
        "at": event.at.isoformat(),
        "host": event.host.name,
        "host_uuid": str(event.host.uuid),
        "backend": event.backend_name or None,
        "backend_uuid": str(backend.uuid) if backend else None,
        "from": event.from_status,
        "to": event.to_status,
        "message": event.message,
        "findings": event.result.findings if event.result else [],
    }


def post_webhook(url: str, body: dict[str, Any]) -> None:
    """POST the event from an unprivileged child process (see ``webhook``): this process may
    be a root worker holding the database's password."""
    timeout = setting("SWAPADMIN_WEBHOOK_TIMEOUT_SECONDS", 10.0)
    user = getattr(settings, "SWAPADMIN_WEBHOOK_USER", None) or "nobody"
    try:
        sent = webhook.send(url, json.dumps(body).encode(), timeout, user)
    except webhook.WebhookError as e:
        raise DeliveryError(str(e)) from None
    log.info("webhook %s answered %d (sent as uid %d)", url, sent.status, sent.uid)


def email_body(event: HealthEvent) -> str:
    lines = [
        f"{event.subject}",
        "",
        f"Host: {event.host.name}",
    ]
    if event.backend_name:
        lines.append(f"Backend: {event.backend_name}")
    lines += [
        f"Status: {event.from_status} -> {event.to_status}",
        f"At: {event.at:%Y-%m-%d %H:%M:%S %Z}",
        "",
    ]
    lines.append(event.message)
    if event.result:
        lines += ["", "Findings:"]
        lines += [f"  [{f['status']}] {f['check']}: {f['message']}" for f in event.result.findings]
    return "\n".join(lines) + "\n"


def one_line(text: str) -> str:
    """``text`` fit for a header: a CR or LF in a host's or backend's name makes Django
    refuse the whole message (BadHeaderError), so the alert would never be sent."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


class Mailer:
    """One connection to the mail server for a round's mails. A server that is down or
    stops answering fails the round's remaining mails with its error at once: each would
    otherwise wait EMAIL_TIMEOUT again, and the task holds the control worker meanwhile.
    A refusal (of one recipient) only ends the connection, the next mail gets a new one."""

    def __init__(self) -> None:
        self.connection: BaseEmailBackend | None = None
        self.down: str | None = None

    def send(self, subject: str, body: str, to: str) -> None:
        if self.down is not None:
            raise DeliveryError(f"mail to {to} failed: {self.down} (not tried again this round)")
        try:
            if self.connection is None:
                connection = get_connection(fail_silently=False)
                connection.open()
                self.connection = connection
            send_mail(one_line(subject), body, None, [to], fail_silently=False,
                      connection=self.connection)  # fmt: skip
        except SoftTimeLimitExceeded:  # the task's time is up: stop, not the next address
            self.close()
            raise
        except Exception as e:  # SMTP and backend errors have no common base class
            problem = mail_problem(e)
            self.close()
            if server_gone(e):
                self.down = problem
            raise DeliveryError(f"mail to {to} failed: {problem}") from None

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is None:
            return
        smtp = getattr(connection, "connection", None)
        try:
            connection.close()
        except Exception:  # QUIT unanswered: Django forgets the socket without closing it
            if smtp is not None:
                smtp.close()


def server_gone(e: Exception) -> bool:
    """Whether ``e`` says the server cannot be talked to (not reached, timed out, TLS
    failed, hung up) rather than that it refused this one mail."""
    refusals = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused)
    return isinstance(e, OSError) and not isinstance(e, refusals)


def send_one(event: HealthEvent, target: str, mailer: Mailer | None = None) -> None:
    kind, _, where = target.partition(":")
    if kind == AlertChannel.Kind.WEBHOOK:
        post_webhook(where, payload(event))
    elif kind == AlertChannel.Kind.EMAIL:
        mine = mailer is None
        mailer = mailer or Mailer()
        try:
            mailer.send(event.subject, email_body(event), where)
        finally:
            if mine:
                mailer.close()
    else:
        raise DeliveryError(f"unknown channel kind {kind!r}")


def mail_problem(e: Exception) -> str:
    """What went wrong with the mail server, in words a sysadmin can act on (smtplib's own
    messages are a dict's repr or a bare errno)."""
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(e.recipients.values()))
        return f"the mail server refused the recipient: {code} {_text(reply)}"
    if isinstance(e, smtplib.SMTPResponseException):  # sender, data, authentication
        return f"the mail server answered {e.smtp_code} {_text(e.smtp_error)}"
    if isinstance(e, smtplib.SMTPServerDisconnected):
        return f"the mail server closed the connection ({e})"
    if isinstance(e, ssl.SSLError):
        return f"TLS with the mail server {_server()} failed: {e}"
    if isinstance(e, OSError):  # refused, unreachable, timed out, unknown host
        return f"the mail server {_server()} could not be reached: {e.strerror or e}"
    return str(e) or type(e).__name__


def _server() -> str:
    return f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def deliver(event_id: int, *, final: bool = False) -> list[str]:
    """Send the event to every target that has not had it; returns the targets that failed.
    With ``final`` (the last retry) a failure marks the event failed rather than pending."""
    event = (
        HealthEvent.objects.select_related("host", "backend", "result").filter(pk=event_id).first()
    )
    if event is None:
        return []
    state: dict[str, Any] = dict(event.deliveries or {})
    failed: list[str] = []
    all_targets = targets()
    mailer = Mailer()
    try:
        for target in all_targets:
            entry = dict(state.get(target) or {"state": "pending", "attempts": 0})
            if entry["state"] == "delivered":
                continue
            entry["attempts"] += 1
            entry["at"] = timezone.now().isoformat()
            try:
                send_one(event, target, mailer)
            except SoftTimeLimitExceeded:
                # The round's time ran out talking to this target (a server that trickles
                # its answer resets every read's timeout): recorded, and the task retries.
                entry.update(
                    state="failed" if final else "pending",
                    error="the delivery round ran out of its time limit talking to it",
                )
                state[target] = entry
                HealthEvent.objects.filter(pk=event.pk).update(deliveries=state)
                raise
            except Exception as e:  # a bug for one target must not lose the others' results
                if not isinstance(e, DeliveryError):
                    log.exception("event %s: sending to %s failed", event.uuid, target)
                    e = DeliveryError(said(e))
                # A server's reply may hold a NUL, which the deliveries' JSON cannot
                # keep on PostgreSQL: the round's record would be lost (review 177/1).
                entry.update(state="failed" if final else "pending", error=printable(str(e)))
                failed.append(target)
                log.warning("event %s not delivered to %s: %s", event.uuid, target, e)
            else:
                entry.update(state="delivered", error="")
            state[target] = entry
            # Written at once, not at the end of the round: a worker killed (or a server
            # hanging past the task's time limit) at a later target must not leave the
            # retry to mail again those who had it. Autocommit: no transaction is held
            # open while the next target's server is talked to.
            HealthEvent.objects.filter(pk=event.pk).update(deliveries=state)
    finally:
        mailer.close()
    fields: dict[str, Any] = {
        "deliveries": state,
        "delivery_attempts": event.delivery_attempts + 1,
    }
    if not all_targets:
        fields["delivery"] = HealthEvent.Delivery.NONE
    elif not failed:
        fields["delivery"] = HealthEvent.Delivery.DELIVERED
        fields["notified_at"] = timezone.now()
    else:
        fields["delivery"] = HealthEvent.Delivery.FAILED if final else HealthEvent.Delivery.PENDING
    HealthEvent.objects.filter(pk=event.pk).update(**fields)
    return failed


def retry_delay(retries: int) -> float:
    """Seconds before retry number ``retries + 1``: base, 2 x base, 4 x base, ..."""
    base = setting("SWAPADMIN_WEBHOOK_RETRY_SECONDS", 10.0)
    cap = setting("SWAPADMIN_WEBHOOK_RETRY_MAX_SECONDS", 1800.0)
    return float(min(cap, base * 2**retries))


def queue_notification(event_id: int) -> None:
    """Send the notify task to the control queue; if the broker is down the event stays
    pending and the offline sweep sends it again (``resend_pending``). An enrolled host's
    worker may not publish there: its events wait for that sweep."""
    from swapadmin.celery import app

    if settings.SWAPADMIN_BROKER_OWN_QUEUE_ONLY:
        log.info(
            "health event %s: left for the control plane, whose sweep sends it after %.0f s "
            "(this host's broker user reaches its own queue only)",
            event_id, RESEND_AFTER_SECONDS,
        )  # fmt: skip
        return

    try:
        # No time limit travels with the message: the control worker that delivers runs it
        # under its own SWAPADMIN_NOTIFY_TIME_LIMIT_SECONDS. Celery would otherwise put this
        # process's limits (a host worker's, the web's) in the message, over the worker's.
        app.send_task(
            NOTIFY_TASK, args=[event_id], queue="control", retry=False,
            time_limit=None, soft_time_limit=None,
        )  # fmt: skip
    except Exception as e:  # kombu raises many types for an unreachable broker
        log.warning("health event %s not queued for notification: %s", event_id, e)


#: How long an event waits before the sweep queues it again: its first message may still be
#: in the control queue's backlog, and a second one would deliver it twice.
RESEND_AFTER_SECONDS = 600.0


def resend_pending(older_than_seconds: float = RESEND_AFTER_SECONDS) -> int:
    """Queue again events still pending long after they were raised (a lost message)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        HealthEvent.objects.filter(
            delivery=HealthEvent.Delivery.PENDING, at__lt=cutoff, delivery_attempts=0
        ).values_list("pk", flat=True)
    )
    for pk in ids:
        transaction.on_commit(partial(queue_notification, pk))
    return len(ids)
