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
from django.db.models.functions import Now

from . import runner, signing
from .models import Host, Job
from .orphans import fail_stale, fail_unconfirmed_cancels
from .retention import prune_audit, prune_jobs, roll_up
from .services import dispatch, end_queued_cancels, resend_lost, resend_undispatched

log = logging.getLogger(__name__)

RUN_JOB = "swapadmin.core.run_job"
SWEEP = "swapadmin.core.sweep"
RETENTION = "swapadmin.core.retention"


@shared_task(name=RUN_JOB, bind=True, acks_late=True, ignore_result=True)
def run_job(self: Any, job_id: int, *ignored: Any, **also_ignored: Any) -> str:
    """Run job ``job_id`` if it is still queued and belongs to this worker's host. The
    message names the job and nothing else: anything more in it (an attempt count, once
    part of the message) is ignored, the row says it."""
    worker = getattr(self.request, "hostname", None) or f"direct@{settings.SWAPADMIN_HOST}"
    # Before the claim, a lock or a handler: only what the control plane signed, as the
    # rows still say it, runs here (core/signing.py); anything else is failed with why.
    if signing.refuse_unauthorised(int(job_id)):
        return "refused"
    outcome = runner.run(int(job_id), worker=worker)
    if outcome.state == "wrong-machine":
        # Leave it queued for the host's own machine; the sweep sends it again.
        Job.objects.filter(pk=int(job_id), state=Job.State.QUEUED).update(
            dispatched_at=None, waiting_reason=outcome.detail[:255]
        )
    elif outcome.state == "wrong-host":
        dispatch(int(job_id))  # send it where it belongs (a no-op unless still queued)
    elif outcome.retry_in is not None:
        _send_again(int(job_id), outcome.retry_in)
    return str(outcome.state)


def _send_again(job_id: int, countdown: float) -> None:
    job = Job.objects.select_related("host").filter(pk=job_id, state=Job.State.QUEUED).first()
    if job is None:
        return
    try:
        run_job.apply_async(args=(job_id,), queue=job.host.queue, countdown=countdown)
    except Exception as e:
        # The broker went away: leave it to the sweep, which sends undispatched jobs.
        log.warning("could not send job %s again: %s", job.uuid, e)
        Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(dispatched_at=None)
        return
    # When the message is due: a queued job long past it had its message lost.
    Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(
        dispatched_at=Now() + timedelta(seconds=countdown)
    )


@shared_task(name=SWEEP, ignore_result=True)
def sweep() -> dict[str, int]:
    """Fail running jobs whose worker stopped saying it runs them, and cancels no worker
    confirmed; send again what never reached the broker or whose message was lost; say
    why jobs of offline hosts wait."""
    failed = fail_stale(Job.objects.all())
    failed += fail_unconfirmed_cancels()
    cancelled = end_queued_cancels()
    resent = resend_undispatched() + resend_lost()
    offline = 0
    # By the database's clock, as heartbeats are written: this worker's own may be off.
    online = set(Host.objects.online().values_list("pk", flat=True))
    for host in Host.objects.all():
        if host.pk in online:
            continue
        offline += 1
        Job.objects.filter(host=host, state=Job.State.QUEUED, waiting_reason="").update(
            waiting_reason=f"host {host.name} is offline; the job runs when its worker is back"
        )
    return {"failed": failed, "cancelled": cancelled, "resent": resent, "offline_hosts": offline}


@shared_task(name=RETENTION, ignore_result=True)
def retention() -> dict[str, int]:
    """Samples rolled up, and old jobs, audit events, health events and check results
    deleted (core/retention.py, health.tasks.prune)."""
    from swapadmin.health.tasks import prune as prune_health

    done = roll_up()
    done["jobs"] = prune_jobs()
    done["audit_events"] = prune_audit()
    done.update(prune_health())
    return done
