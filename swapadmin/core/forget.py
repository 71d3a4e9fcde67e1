"""Forgetting a host: its row goes, with its jobs, samples and health, and the audit trail
keeps the event (``AuditEvent.host`` is SET_NULL; its name and uuid stay in the event).

Only a host with nothing left to lose: no backend other than destroyed ones (a backend's
swap area leaves through its destroy job, which releases or deletes it on the machine;
deleting the row would leave it there unmanaged), no live job, and no worker still
reporting (it would register the host again at its next start). The checks and the delete
happen under a lock on the host's row, which a backend or job being inserted for it needs
too (PostgreSQL's FOR KEY SHARE for the foreign key; SQLite takes the whole database).
"""

from __future__ import annotations

from typing import Any

from django.db import OperationalError, transaction
from django.db.models import Model

from swapadmin.enroll.models import HostCredential
from swapadmin.health.models import BackendHealth, CheckResult, HealthEvent, HostHealth

from .models import AuditEvent, Backend, DynamicSwapDecision, DynamicSwapPolicy, Host, Job, Sample
from .services import Actor, audit

ACTION = "forget-host"
#: PostgreSQL's SQLSTATEs for a NOWAIT lock another transaction holds, and for a deadlock
#: it broke by failing this transaction: either way the host is being changed right now.
BUSY = frozenset({"55P03", "40P01"})


#: The host's rows that other changes lock and, still holding them, then insert a row naming
#: the host (an edit or an action holding a backend's row; a health check its health row; a
#: policy's decision its policy; a revocation its credentials): each (model, the lookup from
#: it to the host). The forget takes them NOWAIT before its delete would wait for them.
HELD: tuple[tuple[type[Model], str], ...] = (
    (Backend, "host"),
    (BackendHealth, "backend__host"),
    (Job, "host"),
    (DynamicSwapPolicy, "host"),
    (HostHealth, "host"),
    (HostCredential, "host"),
)
#: Every other table the delete writes (removes, or sets a column of to NULL), and why a
#: change seldom holds such a row while it waits for the host's row or a held one: the
#: delete may wait for these. Should one ever do so, PostgreSQL breaks the deadlock by
#: failing one side; the forget then says the host is busy.
#: A table added to the host's cascade must be put in one of the two (a test holds it).
WAITED_FOR: dict[type[Model], str] = {
    Sample: "only inserted; roll-ups insert before they delete, and retention's deletes "
    "insert nothing after",
    CheckResult: "inserted under its health row's lock (held); retention deletes those no "
    "health row or event names, in batches that insert nothing after. Retention's job "
    "prune sets a pruned job's results' job to NULL, but only after it locked the job, "
    "passing over one a forget holds",
    HealthEvent: "inserted with its check; its delivery state is written one autocommit "
    "statement at a time",
    DynamicSwapDecision: "inserted under its policy's lock (held); pruned in one statement. "
    "Retention's job prune sets a pruned job's decisions' job to NULL after locking the "
    "job, as for check results",
    AuditEvent: "only inserted (the delete sets its host to NULL: the trail stays)",
}


class CannotForget(Exception):
    """The host still holds something; the message says what and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _remaining_backends(host: Host) -> list[str]:
    destroyed = Backend.objects.filter(
        desired_state=Backend.Desired.ABSENT, observed_state=Backend.Observed.ABSENT
    )
    return list(
        host.backends.exclude(pk__in=destroyed.values("pk"))
        .order_by("name")
        .values_list("name", flat=True)
    )


def why_not(host: Host) -> str | None:
    """Why ``host`` cannot be forgotten now, or None."""
    names = _remaining_backends(host)
    if names:
        listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return (
            f"{host.name} still has {len(names)} backend{'s' if len(names) > 1 else ''} "
            f"({listed}): destroy them first, so that their swap areas are released on the "
            "machine rather than left there unmanaged"
        )
    if host.credentials.filter(revoked_at=None).exists():
        # Its role could still log in, matching no row: a door left open for nothing.
        return (
            f"{host.name} still holds enrolled credentials: revoke them first (revoke-host, "
            "or the Revoke button), which also ends its open sessions"
        )
    live = Job.objects.filter(host=host, state__in=Job.LIVE).order_by("queued_at").first()
    if live is not None:
        return (
            f"{host.name} has a live {live.kind_word} job ({live.uuid}, {live.state}): wait for it"
        )
    if host.online:
        return (
            f"{host.name}'s worker is still reporting: stop it first, or it registers the host "
            "again at its next start"
        )
    return None


def _hold_what_goes(host: Host) -> None:
    """Lock, without waiting, the rows of the host's that other changes lock (its backends
    and their health, its jobs, its policy, its health, its credentials), before the delete
    would wait for them. Such a change (an edit or an action holding a backend's row, a
    health check holding a health row) then inserts a row naming the host, which waits for
    this transaction's hold of the host's row: had the delete waited for theirs, each would
    wait on the other. OperationalError (PostgreSQL's lock_not_available) while one is held."""
    for model, lookup in HELD:
        rows = model._default_manager.filter(**{lookup: host})
        list(rows.select_for_update(nowait=True, of=("self",)).values_list("pk", flat=True))


def _held_by_another(e: OperationalError) -> bool:
    return getattr(e.__cause__, "sqlstate", None) in BUSY


def forget_host(host: Host, actor: Actor) -> None:
    """Delete the host's row, audited; CannotForget (also audited) while it holds anything."""
    try:
        with transaction.atomic():
            locked = Host.objects.select_for_update().filter(pk=host.pk).first()
            if locked is None:
                raise CannotForget(f"{host.name} is already gone")
            reason = why_not(locked)
            if reason is None:
                _hold_what_goes(locked)
                # Asked again of the rows now held: a change that committed between the
                # first answer and the hold (a backend asked back) is seen.
                reason = why_not(locked)
            if reason is None:
                detail: dict[str, Any] = {
                    "machine_id": locked.machine_id,
                    "destroyed_backends_removed": locked.backends.count(),
                    "jobs_removed": Job.objects.filter(host=locked).count(),
                }
                audit(actor, ACTION, locked, "ok", detail)
                locked.delete()
                return
    except OperationalError as e:
        if not _held_by_another(e):
            raise
        reason = (
            f"{host.name} is being changed right now (another change holds one of its rows: "
            "an edit, an action or a job being queued, a health check); nothing was removed: "
            "try again in a moment"
        )
    audit(actor, ACTION, host, "refused", {"reason": reason})
    raise CannotForget(reason)
