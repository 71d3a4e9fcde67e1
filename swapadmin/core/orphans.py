"""Jobs whose worker is gone: failed, and their backends read again (see core/liveness.py).

Two callers decide when: the host's own worker, at start and with every sample turn that
finds something to settle (``settle_orphans``, which also knows a reboot by the boot id),
and the control plane's sweep for every host (``fail_stale``, ``fail_unconfirmed_cancels``),
which cannot read another machine's kernel and so flags the backend to be read by its host.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Now
from django.utils import timezone

from backends.store import boot_id

from .models import Backend, Job, db_ago
from .observe import read_observation, said, took_a_look, write_observation

log = logging.getLogger(__name__)


def database_up_for() -> float | None:
    """Seconds since the database server started (PostgreSQL), None where it cannot say."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXTRACT(EPOCH FROM now() - pg_postmaster_start_time())")
        return float(cursor.fetchone()[0])


def fail_job(job: Any, reason: str, only_if: Any, *, reread: bool = True) -> bool:
    """running -> failed with ``reason`` if the row still matches ``only_if`` (so a job
    that spoke up meanwhile is left alone); with ``reread``, its backend is read again from
    the kernel before its next job. True if this call failed it."""
    line = f"{timezone.now():%H:%M:%S} failed: {reason}\n"
    # One transaction: a crash between the two must not leave a failed job whose backend
    # nobody reads again (review 174/10).
    with transaction.atomic():
        changed = Job.objects.filter(Q(pk=job.pk, state=Job.State.RUNNING) & only_if).update(
            state=Job.State.FAILED,
            finished_at=Now(),
            error=reason,
            progress_message=reason[:255],
            log=Concat(F("log"), Value(line)),
        )
        if changed and reread and job.backend_id is not None:
            flag(job.backend_id)
    if changed:
        log.warning("job %s: %s", job.uuid, reason)
    return bool(changed)


def flag(backend_pk: int) -> None:
    """Have backend ``backend_pk`` read again before its next job, and count it: a look
    under way clears only the flag it saw (``_read_again``, ``runner._look_again``)."""
    Backend.objects.filter(pk=backend_pk).update(
        reread_before_next_job=True, reread_generation=F("reread_generation") + 1
    )


#: What the settle did of a failed job's backend, and what its reason then says of it:
#: read again now; not read (the sweep elsewhere cannot, or the look read nothing), so its
#: next job reads it first; or no backend of this host to read.
Reread = Literal["read", "unread", "none"]
_SAID: dict[str, str] = {
    "read": "; the backend's state was read again from the kernel",
    "unread": "; the backend is read again from the kernel before its next job",
    "none": "",
}


def fail_stale(jobs: Any, before: Callable[[Any], Reread] | None = None) -> int:
    """Fail the running jobs among ``jobs`` whose worker has not said it runs them for
    SWAPADMIN_JOB_STALE_SECONDS, by the database's clock. Right after the database itself
    restarted, nobody could say anything: wait one window before judging. ``before(job)``,
    on the host, reads the job's backend again first (instead of flagging it), and says
    what it did: a look it could not take leaves the backend flagged."""
    window = settings.SWAPADMIN_JOB_STALE_SECONDS
    up = database_up_for()
    if up is not None and up < window:
        return 0
    silent = Q(heartbeat_at__lt=db_ago(window)) | Q(
        heartbeat_at__isnull=True, started_at__lt=db_ago(window)
    )
    failed = 0
    for job in jobs.filter(state=Job.State.RUNNING).filter(silent):
        done: Reread = (
            "none" if job.backend_id is None else "unread" if before is None else before(job)
        )
        reason = (
            f"the worker running it stopped (pid {job.worker_pid} on {job.worker or 'unknown'}): "
            f"no heartbeat from it for more than {window:.0f} s (killed, its host down, or cut "
            f"off from the database){_SAID[done]}"
        )
        failed += fail_job(job, reason, silent, reread=done == "unread")
    return failed


def cancel_deadline(job: Job) -> datetime | None:
    """When the sweep fails ``job`` if its worker has not confirmed the cancel asked of it:
    the first ask's time plus the grace (``fail_unconfirmed_cancels``' own rule, on the
    database's clock, which wrote that time). None for a flag with no time (another
    machine's row, or one from before the time was kept), which the sweep never fails."""
    if job.cancel_requested_at is None:
        return None
    return job.cancel_requested_at + timedelta(seconds=settings.SWAPADMIN_CANCEL_GRACE_SECONDS)


def fail_unconfirmed_cancels() -> int:
    """Fail running jobs someone asked to cancel whose worker did not end them within
    SWAPADMIN_CANCEL_GRACE_SECONDS: the backend is freed for its next job, which reads it
    again from the kernel first (and still waits for the host's lock on the backend, if
    that worker is in fact still in a system call)."""
    grace = settings.SWAPADMIN_CANCEL_GRACE_SECONDS
    unconfirmed = Q(cancel_requested=True, cancel_requested_at__lt=db_ago(grace))
    failed = 0
    for job in Job.objects.filter(state=Job.State.RUNNING).filter(unconfirmed):
        reason = f"cancelled: its worker did not confirm within {grace:.0f} s, so the job is failed"
        if job.backend_id is not None:
            reason += " and the backend freed; it is read again from the kernel before its next job"
        failed += fail_job(job, reason, unconfirmed)
    return failed


#: The reasons logged for each backend the settle could not read, with the flag's
#: generation they were logged under: a flagged backend is tried again every sample turn,
#: and each reason is logged once, not every 5 s (170/3), reasons that alternate included
#: (173/5). A backend read again is forgotten, and so is one flagged again since (a job
#: read it, or failed on it, meanwhile: review 173/5), so a reason come back later is
#: logged again (172/6). Touched by the sample loop's one thread.
_WARNED: dict[int, tuple[int, set[str]]] = {}


def _warn_once(backend: Backend, what: str, reason: str, *, exc_info: bool = False) -> None:
    if len(_WARNED) > 1000:  # bounded: a host's backends
        _WARNED.clear()
    generation, told = _WARNED.get(backend.pk, (backend.reread_generation, set()))
    if generation != backend.reread_generation or not backend.reread_before_next_job:
        # Flagged again since, or read since (a job's look cleared the flag, in another
        # process, without a new generation): news again (review 179/3).
        told = set()
    _WARNED[backend.pk] = (backend.reread_generation, told)
    if reason in told:
        return
    if len(told) >= 20:  # many reasons: this backend's alone start again
        told.clear()
    told.add(reason)
    log.warning("backend %s %s, and stays flagged: %s", backend.pk, what, reason, exc_info=exc_info)


def _read_again(backend_pk: int | None, host: Any, seen: int | None = None) -> Reread:
    """Read backend ``backend_pk`` of ``host`` again from the kernel and the store. Only a
    backend of this host: a job row names any backend id another machine wrote there, and
    another host's store is not this machine's to read (review 169/4). A look that raised,
    or whose plugin could not be built, read nothing: it writes nothing either (an ERROR
    written every turn, and ACTIVE by the sample after it, made the row flap: review
    169/3), and the caller keeps the backend flagged, so that its next job reads it first,
    rather than saying it was read (reviews 167/1, 167/7).

    With ``seen`` (the flag's generation before the look), the look is written, and the
    flag cleared, only if no one flagged the backend since: a job failed meanwhile, and a
    newer look after it by that backend's next job, would otherwise be overwritten with
    what this look read before that job's end, and nothing flagged to correct it (review
    176/2). Such a look is thrown away: "unread", and the flag, if still set, stays."""
    if backend_pk is None:
        return "none"
    backend = Backend.objects.filter(pk=backend_pk, host=host).first()
    if backend is None:
        return "none"
    unread = "cannot be read again"
    try:
        fields = read_observation(backend)
    except Exception as e:
        _warn_once(backend, unread, said(e), exc_info=True)
        return "unread"
    if not took_a_look(fields):
        _warn_once(backend, unread, str(fields.get("observed_error", "")))
        return "unread"
    try:
        if seen is None:
            write_observation(backend, fields)
        elif not _write_if_unflagged_since(backend, fields, seen):
            return "unread"
    except Exception as e:
        # Read, but not written: the row still says what it said, so it is not settled.
        _warn_once(backend, "was read again but not written", said(e), exc_info=True)
        return "unread"
    _WARNED.pop(backend.pk, None)
    return "read"


def _write_if_unflagged_since(backend: Backend, fields: dict[str, Any], seen: int) -> bool:
    """Write the look and clear the flag, both under the row's lock, if its generation is
    still ``seen``; else nothing (``_read_again``)."""
    with transaction.atomic():
        if (
            not Backend.objects.select_for_update()
            .filter(pk=backend.pk, reread_generation=seen)
            .exists()
        ):
            return False
        write_observation(backend, {**fields, "reread_before_next_job": False})
    return True


def settle_orphans(host: Any) -> int:
    """On the host itself (at start, then with every sample): fail its running jobs that
    were claimed during another boot (the host rebooted: nothing of them runs) or whose
    worker fell silent, and read their backends again from the kernel right away."""

    looked: dict[int, Reread] = {}

    def reread(job: Any) -> Reread:
        # The backend first, so whoever sees the job failed sees the backend settled; once
        # a turn (two of its jobs may be settled in one: review 179/3).
        if job.backend_id is None:
            return "none"
        if job.backend_id not in looked:
            looked[job.backend_id] = _read_again(job.backend_id, host)
        return looked[job.backend_id]

    mine = boot_id()
    running = Job.objects.filter(host=host, state=Job.State.RUNNING)
    settled = 0
    for job in running.exclude(boot_id__in=("", mine)):
        done = reread(job)
        reason = (
            f"its host rebooted while it ran (claimed in boot {job.boot_id}, this is boot "
            f"{mine}){_SAID[done]}"
        )
        settled += fail_job(job, reason, Q(boot_id=job.boot_id), reread=done == "unread")
    settled += fail_stale(Job.objects.filter(host=host), before=reread)
    # Failed by a sweep elsewhere: read here, on the host, as soon as this worker can.
    for pk, seen in Backend.objects.filter(host=host, reread_before_next_job=True).values_list(
        "pk", "reread_generation"
    ):
        if pk not in looked:  # looked at a moment ago (and flagged for it, if unread)
            _read_again(pk, host, seen)
    _carry_warned({pk for pk, done in looked.items() if done == "unread"})
    return settled


def _carry_warned(pks: set[int]) -> None:
    """The settle flagged these backends itself, right after its look at them failed: the
    reasons it logged then stand for the generation its flag made, or the next turn would
    log them again (review 177/7)."""
    if not pks:
        return
    for pk, generation in Backend.objects.filter(pk__in=pks).values_list("pk", "reread_generation"):
        if pk in _WARNED:
            _WARNED[pk] = (generation, _WARNED[pk][1])
