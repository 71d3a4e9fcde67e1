"""Celery tasks. They take ids and re-read everything; the Job row is the one truth.

``run_job`` is what ``services.dispatch`` sends to ``host.<name>``; ``sweep`` and
``retention`` are periodic (django-celery-beat rows, see migration 0002) and go to the
shared ``control`` queue, which every worker also consumes.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from . import runner
from . import worker as _worker  # noqa: F401  (connects the worker's signal handlers)
from .models import Host, Job

log = logging.getLogger(__name__)

RUN_JOB = "swapadmin.core.run_job"
SWEEP = "swapadmin.core.sweep"
RETENTION = "swapadmin.core.retention"


@shared_task(name=RUN_JOB, bind=True, acks_late=True, ignore_result=True)
def run_job(self: Any, job_id: int, attempt: int = 0) -> str:
    """Run job ``job_id`` if it is still queued and belongs to this worker's host."""
    worker = getattr(self.request, "hostname", None) or f"direct@{settings.SWAPADMIN_HOST}"
    outcome = runner.run(int(job_id), worker=worker, attempt=int(attempt))
    if outcome.state == "wrong-machine":
        # Leave it queued for the host's own machine; the sweep sends it again.
        Job.objects.filter(pk=int(job_id), state=Job.State.QUEUED).update(
            dispatched_at=None, waiting_reason=outcome.detail[:255]
        )
    elif outcome.state == "wrong-host":
        from .services import dispatch

        dispatch(int(job_id))  # send it where it belongs (a no-op unless still queued)
    elif outcome.retry_in is not None:
        _send_again(int(job_id), outcome.attempt, outcome.retry_in)
    return str(outcome.state)


def _send_again(job_id: int, attempt: int, countdown: float) -> None:
    job = Job.objects.select_related("host").filter(pk=job_id, state=Job.State.QUEUED).first()
    if job is None:
        return
    try:
        run_job.apply_async(
            args=[job_id], kwargs={"attempt": attempt}, queue=job.host.queue, countdown=countdown
        )
    except Exception as e:
        # The broker went away: leave it to the sweep, which sends undispatched jobs.
        log.warning("could not send job %s again: %s", job.uuid, e)
        Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(dispatched_at=None)


@shared_task(name=SWEEP, ignore_result=True)
def sweep() -> dict[str, int]:
    """Fail jobs whose worker stopped heartbeating, send again what never reached the broker,
    and say why jobs of offline hosts wait."""
    from .services import resend_undispatched
    from .worker import fail_orphan

    now = timezone.now()
    stale = now - timedelta(seconds=settings.SWAPADMIN_OFFLINE_AFTER_SECONDS)
    orphans = Job.objects.filter(state=Job.State.RUNNING).filter(
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, started_at__lt=stale)
    )
    failed = 0
    for job in orphans:
        reason = (
            f"the worker running it stopped (pid {job.worker_pid} on {job.worker or 'unknown'} "
            f"sent no heartbeat for {settings.SWAPADMIN_OFFLINE_AFTER_SECONDS:.0f} s)"
        )
        failed += fail_orphan(job, reason)
    resent = resend_undispatched()
    offline = 0
    for host in Host.objects.all():
        if host.online:
            continue
        offline += 1
        Job.objects.filter(host=host, state=Job.State.QUEUED, waiting_reason="").update(
            waiting_reason=f"host {host.name} is offline; the job runs when its worker is back"
        )
    return {"failed": failed, "resent": resent, "offline_hosts": offline}


@shared_task(name=RETENTION, ignore_result=True)
def retention() -> dict[str, int]:
    from .retention import roll_up

    return roll_up()
