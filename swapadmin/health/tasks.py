"""The health app's Celery tasks. On the ``control`` queue (the web side's worker): the
minute's fan-out of rounds and the control plane's drift repairs, the offline sweep and
event notification. On each host's own queue: ``check_host``, that host's round of checks,
run by its worker (``checks.run_round``), which leaves results and no Job row.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Now
from django.utils import timezone

from swapadmin.core.models import Host, Job, db_ago
from swapadmin.core.retention import delete_in_batches, older_than

from . import notify
from .checks import raise_event
from .models import BackendHealth, CheckResult, HealthEvent, HostHealth
from .probes import setting
from .schedule import CHECKS_TASK, HOST_ROUND_TASK, OFFLINE_TASK

log = logging.getLogger(__name__)


@shared_task(name=CHECKS_TASK, ignore_result=True)
def schedule_checks() -> int:
    """Ask every online host's worker for a round of checks (one message naming the host,
    no Job row) and queue the repairs the latest results call for; returns how many rounds
    were asked. A host whose previous round has not started gets no second one: a slow or
    stopped worker must not come back to a pile of identical rounds. A round pending for
    SWAPADMIN_RESEND_AFTER_SECONDS on a host that is online and runs no job had its
    message lost (a broker restart): it is asked again, and the claim in ``check_host``
    makes a duplicate message harmless."""
    repair_drifted()
    _dynamic_swap()
    running = Job.objects.filter(host=OuterRef("host"), state=Job.State.RUNNING)
    # While the host runs a job, its round may just be waiting behind it (a solo pool).
    lost = Q(round_requested_at__lt=db_ago(settings.SWAPADMIN_RESEND_AFTER_SECONDS)) & ~Exists(
        running
    )
    asked = 0
    for host in Host.objects.online().order_by("pk"):
        HostHealth.objects.get_or_create(host=host)
        with transaction.atomic():
            # By the database's clock, like heartbeats; the conditional UPDATE decides.
            due = HostHealth.objects.filter(host=host).filter(Q(round_requested_at=None) | lost)
            if not due.update(round_requested_at=Now()):
                continue
            transaction.on_commit(partial(send_round, host.pk, host.queue))
        asked += 1
    return asked


def _dynamic_swap() -> None:
    """Each enabled dynamic swap policy's round (core/dynamic.py), decided here on the
    control plane like the repairs: hosts never decide to write. A failure there must not
    cost every host its round of checks."""
    from swapadmin.core import dynamic

    try:
        dynamic.run_all()
    except Exception:
        log.exception("dynamic swap: the round failed")


def send_round(host_id: int, queue: str) -> bool:
    """Send a host its round. On a broker failure the round is no longer pending, so the
    next minute asks again (there is no row to keep it, and none is needed)."""
    from swapadmin.celery import app

    try:
        app.send_task(HOST_ROUND_TASK, args=[host_id], queue=queue, retry=False)
    except Exception as e:  # kombu raises many types for an unreachable broker
        log.warning("no round of checks sent to %s: %s", queue, e)
        HostHealth.objects.filter(host_id=host_id).update(round_requested_at=None)
        return False
    return True


@shared_task(name=HOST_ROUND_TASK, ignore_result=True)
def check_host(host_id: int, *ignored: Any, **also_ignored: Any) -> str:
    """On the host's worker: run the round beat asked for, if this worker is that host's
    (its name and this machine's id, as the runner checks a job's) and the round is still
    pending. The message names the host and nothing else: the backends are this host's
    rows, read again here. Returns what happened, for the log."""
    from swapadmin.core.machines import HostIdentityError, check_machine

    from .checks import run_round

    host = Host.objects.filter(pk=int(host_id)).first()
    if host is None:
        return "gone"  # deleted, or (an enrolled host's role) another host's row
    if host.name != settings.SWAPADMIN_HOST:
        log.error("a round for host %s reached %s: refused", host.name, settings.SWAPADMIN_HOST)
        return "wrong-host"
    try:
        check_machine(host)
    except HostIdentityError as e:
        log.error("round refused: %s", e)
        return "wrong-machine"
    # The claim: one round per request, however many messages ask for it.
    claimed = HostHealth.objects.filter(host=host).exclude(round_requested_at=None)
    if not claimed.update(round_requested_at=None):
        return "nothing pending"
    statuses = run_round(host)
    return f"checked {len(statuses) - 1} backend(s), host {statuses['host']}"


def repair_drifted() -> int:
    """Queue the repairs the latest checks call for, as the control plane, which alone can
    sign them: a fleet host's worker records what it found and queues nothing. Where the
    check could queue it at once (`make run`), this finds it queued already, or within its
    back-off, and adds nothing. Returns how many were queued."""
    from .repair import maybe_repair, wanted_repairs

    queued = 0
    latest = (
        BackendHealth.objects.filter(backend__auto_repair=True)
        .exclude(last_result=None)
        .select_related("backend__host", "last_result", "last_repair_job")
    )
    for health in latest:
        result, repair = health.last_result, health.last_repair_job
        if result is None:
            continue
        if repair is not None and (repair.finished_at is None or result.at < repair.finished_at):
            continue  # its repair runs, or ran after the check: the next check says more
        findings = result.findings
        if asked_otherwise(findings, health.backend):
            continue  # the user asked for something else since: the next check says more
        # Also when nothing is wanted any more but a back-off is still counted: it is reset.
        if wanted_repairs(findings) or health.repair_attempts or health.next_repair_at:
            queued += maybe_repair(health.backend, findings) is not None
    return queued


def asked_otherwise(findings: list[dict[str, Any]], backend: Any) -> bool:
    """Whether ``findings`` were judged against another wish than ``backend``'s row holds
    now: a check found "should be active", then the user deactivated it. Repairing from
    that result would undo what the user just did."""
    for f in findings:
        value = f.get("value") if isinstance(f, dict) else None
        if not isinstance(value, dict) or not value.get("repair"):
            continue
        if f.get("check") == "drift" and value.get("desired") != backend.desired_state:
            return True
        if f.get("check") == "fstab" and value.get("persist") != backend.persist:
            return True
    return False


def prune_results(batch: int | None = None) -> int:
    """Delete check results older than SWAPADMIN_HEALTH_RETENTION_DAYS (0: never), except
    the current ones (a backend's or host's health points at them) and those an event
    still kept names (what the event was about); returns how many."""
    cutoff = older_than(setting("SWAPADMIN_HEALTH_RETENTION_DAYS", 14.0), timezone.now())
    if cutoff is None:
        return 0
    old = CheckResult.objects.filter(at__lt=cutoff)
    old = old.exclude(pk__in=HostHealth.objects.exclude(last_result=None).values("last_result"))
    old = old.exclude(pk__in=BackendHealth.objects.exclude(last_result=None).values("last_result"))
    old = old.exclude(pk__in=HealthEvent.objects.exclude(result=None).values("result"))
    return delete_in_batches(old, batch)


def prune_events(batch: int | None = None) -> int:
    """Delete events older than SWAPADMIN_HEALTH_EVENT_RETENTION_DAYS (0: never) that are
    settled: delivered, given up on, or never to be sent. A pending one is kept until its
    delivery ends, whatever its age; returns how many."""
    cutoff = older_than(setting("SWAPADMIN_HEALTH_EVENT_RETENTION_DAYS", 90.0), timezone.now())
    if cutoff is None:
        return 0
    old = HealthEvent.objects.filter(at__lt=cutoff).exclude(delivery=HealthEvent.Delivery.PENDING)
    return delete_in_batches(old, batch)


def prune(batch: int | None = None) -> dict[str, int]:
    """The health app's part of the retention task (core.tasks.retention). Events first:
    a result an old event named may then go in the same run."""
    events = prune_events(batch)
    return {"health_events": events, "check_results": prune_results(batch)}


@shared_task(name=OFFLINE_TASK, ignore_result=True)
def mark_offline_hosts() -> int:
    """Raise an event for each host that went offline (no heartbeat for
    SWAPADMIN_OFFLINE_AFTER_SECONDS) or came back since the last sweep; returns how many."""
    raised = 0
    # By the database's clock, as heartbeats are written: this worker's own may be off.
    online_now = set(Host.objects.online().values_list("pk", flat=True))
    for host in Host.objects.all():
        online = host.pk in online_now
        with transaction.atomic():
            HostHealth.objects.get_or_create(host=host)
            health = HostHealth.objects.select_for_update().get(host=host)
            before = health.online
            if before == online:
                continue
            health.online = online
            health.save(update_fields=["online"])
            # The first look only records what it finds: a host registered and never
            # heard from again is not news every time the app starts.
            if before is None:
                continue
            seen = host.last_heartbeat.isoformat() if host.last_heartbeat else "never"
            raise_event(
                host=host,
                backend=None,
                kind=HealthEvent.Kind.CONNECTIVITY,
                from_status="online" if before else "offline",
                to_status="online" if online else "offline",
                message=(
                    f"{host.name}'s worker is back (heartbeat {seen})"
                    if online
                    else f"{host.name}'s worker stopped sending heartbeats (last {seen}); "
                    "its jobs wait until it is back"
                ),
            )
            raised += 1
    notify.resend_pending()
    return raised


# celery-types takes the time limits as int, but Celery's are float seconds (its own
# defaults.py), and no overload matching leaves the decorator untyped.
@shared_task(  # type: ignore[call-overload, untyped-decorator]
    name=notify.NOTIFY_TASK,
    bind=True,
    ignore_result=True,
    max_retries=None,
    # EMAIL_TIMEOUT bounds each read, not a conversation: a server that trickles its
    # answer a byte at a time would hold a control worker's slot for ever without these.
    soft_time_limit=settings.SWAPADMIN_NOTIFY_TIME_LIMIT_SECONDS,
    time_limit=settings.SWAPADMIN_NOTIFY_TIME_LIMIT_SECONDS + 30,
)
def notify_event(self: Any, event_id: int) -> None:
    """Deliver an event; retried with exponential back-off while a target fails or the
    round runs out of time."""
    limit = int(setting("SWAPADMIN_WEBHOOK_MAX_RETRIES", 8))
    final = self.request.retries >= limit
    try:
        failed = notify.deliver(event_id, final=final)
    except SoftTimeLimitExceeded:
        log.warning("event %s: the delivery round ran out of time; tried again later", event_id)
        failed = ["(time limit)"]
    if failed and not final:
        raise self.retry(countdown=notify.retry_delay(self.request.retries))
