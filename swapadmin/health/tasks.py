"""The health app's Celery tasks, all on the ``control`` queue (the web side's worker):
the scheduled fan-out of checks, the offline sweep and event notification. The checks
themselves run on each host's worker as jobs of kind ``check`` (``checks.run_backend_check``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.services import Actor, Conflict, InvalidRequest, request_action

from . import notify
from .checks import raise_event
from .models import BackendHealth, CheckResult, HealthEvent, HostHealth
from .probes import setting
from .schedule import CHECKS_TASK, OFFLINE_TASK

log = logging.getLogger(__name__)


@shared_task(name=CHECKS_TASK, ignore_result=True)
def schedule_checks() -> int:
    """Queue a check for every backend of every online host; returns how many. A backend
    whose previous check has not run yet gets no second one (an offline or slow worker
    must not come back to a pile of identical checks)."""
    cutoff = timezone.now() - timedelta(seconds=settings.SWAPADMIN_OFFLINE_AFTER_SECONDS)
    pending = Job.objects.filter(kind=Job.Kind.CHECK, state__in=Job.LIVE).values("backend_id")
    backends = (
        Backend.objects.filter(host__last_heartbeat__gte=cutoff)
        .exclude(desired_state=Backend.Desired.ABSENT)
        .exclude(pk__in=pending)
        .select_related("host")
    )
    repair_drifted()
    queued = 0
    for backend in backends:
        try:
            request_action(backend, Job.Kind.CHECK, Actor.schedule())
        except (Conflict, InvalidRequest) as e:
            log.warning("no check queued for %s: %s", backend, e)
            continue
        queued += 1
    prune_results()
    return queued


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
        # Also when nothing is wanted any more but a back-off is still counted: it is reset.
        if wanted_repairs(findings) or health.repair_attempts or health.next_repair_at:
            queued += maybe_repair(health.backend, findings) is not None
    return queued


def prune_results() -> int:
    """Delete results older than SWAPADMIN_HEALTH_RETENTION_DAYS, except the current ones."""
    days = setting("SWAPADMIN_HEALTH_RETENTION_DAYS", 14.0)
    old = CheckResult.objects.filter(at__lt=timezone.now() - timedelta(days=days))
    old = old.exclude(pk__in=HostHealth.objects.exclude(last_result=None).values("last_result"))
    old = old.exclude(pk__in=BackendHealth.objects.exclude(last_result=None).values("last_result"))
    deleted, _ = old.delete()
    return deleted


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


@shared_task(name=notify.NOTIFY_TASK, bind=True, ignore_result=True, max_retries=None)
def notify_event(self: Any, event_id: int) -> None:
    """Deliver an event; retried with exponential back-off while a target fails."""
    limit = int(setting("SWAPADMIN_WEBHOOK_MAX_RETRIES", 8))
    final = self.request.retries >= limit
    failed = notify.deliver(event_id, final=final)
    if failed and not final:
        raise self.retry(countdown=notify.retry_delay(self.request.retries))
