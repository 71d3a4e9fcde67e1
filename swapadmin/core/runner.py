"""The JobRunner: one job's life on its host's worker, from claim to finished row.

A message only names a job; everything else is read again here. The runner reloads the row,
refuses a job for another host, takes the backend's lock (a file lock under the data
directory, held by this process only), claims the row with a conditional UPDATE, rebuilds
the plugin from the row with the host's own policy (so a path edited in the database
outside the swap roots is refused here too), runs the handler, and writes progress, log,
result and the finished state. The backend's observed state is refreshed from the kernel
after every job, whatever happened.
"""

from __future__ import annotations

import logging
import os
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import Now

from backends import BackendError, Policy
from backends.errors import NotOursError, UnsafeError, ValidationError
from backends.store import boot_id

from . import actions, finished, observe, signing
from .context import (
    MAX_RETRIES,
    Busy,
    Cancelled,
    JobContext,
    Outcome,
    best_effort,
)
from .handlers import HANDLERS
from .liveness import REGISTRY
from .locks import exclusive
from .machines import HostIdentityError, check_machine
from .models import Backend, Job
from .observe import read_observation, said, said_typed, took_a_look, write_observation
from .plugins import attach_plugin
from .services import (
    adopted_refusal,
    backend_kind_refusal,
    cancel_before_start,
    indeterminate_reason,
    way_out_of_unproven,
)

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 5.0
#: The bar's words for a job its user cancelled while a try failed for now.
CANCEL_ASKED = "not tried again (cancel asked): "
#: A job whose backend is locked by another job here is sent again after this delay.
BUSY_DELAY_SECONDS = 2.0


def lock_name(job: Job) -> str:
    if job.kind in actions.READS_ONLY:
        # Checks only read, and skip an area another job is changing (health.checks): they
        # neither wait for nor hold up the backend's other jobs.
        return f"check-{job.backend_id or job.host_id}"
    if job.backend_id is not None:
        return f"backend-{job.backend_id}"
    return f"host-{job.host_id}-{job.kind}"


# ---- claim ----


def claim(job: Job, worker: str) -> bool:
    """queued -> running, only if no other job of the same backend is running. The row
    count says whether this worker won; a duplicate message finds the job taken. The
    times are the database's, and the boot id says which boot of the host runs it."""
    now = Now()
    qs = Job.objects.filter(pk=job.pk, state=Job.State.QUEUED, cancel_requested=False)
    if job.backend_id is not None and job.kind not in actions.READS_ONLY:
        other = (
            Job.objects.filter(backend_id=job.backend_id, state=Job.State.RUNNING)
            .exclude(kind__in=actions.READS_ONLY)
            .exclude(pk=OuterRef("pk"))
        )
        qs = qs.filter(~Exists(other))
    return bool(
        qs.update(
            state=Job.State.RUNNING,
            worker=worker[:255],
            worker_pid=os.getpid(),
            boot_id=boot_id(),
            started_at=now,
            heartbeat_at=now,
            waiting_reason="",
            progress=0,
            progress_message="started",
        )
    )


# ---- running ----


def run(job_pk: int, *, worker: str) -> Outcome:
    """Run job ``job_pk`` on this host, if it is still queued and is this host's. How many
    attempts were made is the row's to say (``Job.attempt``), never a message's."""
    job = Job.objects.select_related("host").filter(pk=job_pk).first()
    if job is None:
        return Outcome("gone")
    if job.host.name != settings.SWAPADMIN_HOST:
        log.error(
            "job %s is for host %s, but this worker is %s: refused",
            job.uuid,
            job.host.name,
            settings.SWAPADMIN_HOST,
        )
        return Outcome("wrong-host", detail=job.host.name)
    try:
        check_machine(job.host)
    except HostIdentityError as e:
        log.error("job %s refused: %s", job.uuid, e)
        return Outcome("wrong-machine", detail=str(e))
    if job.state != Job.State.QUEUED:
        return Outcome(job.state)
    if job.cancel_requested:
        cancel_before_start(job.pk)
        return Outcome(Job.State.CANCELLED)
    try:
        with exclusive(lock_name(job)):
            if not claim(job, worker):
                job.refresh_from_db()
                if job.state == Job.State.QUEUED and job.cancel_requested:
                    # Asked since the row was read above: no claim takes it (264/8).
                    cancel_before_start(job.pk)
                    return Outcome(Job.State.CANCELLED)
                if job.state == Job.State.QUEUED:
                    holder = (
                        Job.objects.filter(backend=job.backend_id, state=Job.State.RUNNING)
                        .exclude(kind__in=actions.READS_ONLY)
                        .exclude(pk=job.pk)
                        .first()
                    )
                    raise Busy(
                        f"waiting for {holder.kind_word} job {holder.uuid}" if holder else ""
                    )
                return Outcome(job.state)
            REGISTRY.add(job.pk)
            try:
                # The rows the job runs on, as the claim left them, in one round trip: the
                # job, its host and its backend (with the backend's host, which its signed
                # specification names).
                # The database's clock is read in the same query, for the signature's age:
                # not the row's started_at, which another machine could have rewritten.
                job = (
                    Job.objects.select_related("host", "backend__host")
                    .annotate(db_now=Now())
                    .get(pk=job.pk)
                )
                return _run_claimed(job, job.attempt)
            finally:
                REGISTRY.remove(job.pk)
    except Busy as e:
        Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
            waiting_reason=(e.reason or "the backend is busy")[:255]
        )
        return Outcome("busy", retry_in=BUSY_DELAY_SECONDS, attempt=job.attempt)


def _run_claimed(job: Job, attempt: int) -> Outcome:
    ctx = JobContext(job=job, backend=None, policy=Policy.from_env())
    try:
        outcome, fields = _run_handler(ctx, attempt)
    finally:
        # Observed state first, finished state second: whoever sees the job done sees the
        # backend as the job left it.
        _refresh(ctx)
        if ctx.plugin is not None:
            ctx.plugin.close()
    if outcome.state == Job.State.QUEUED:
        outcome, fields = _retry_or_fail(ctx, outcome, fields)
    if outcome.state != Job.State.QUEUED:
        # Before the database hears of it: this host runs the job no more, whatever its row
        # says later (core/finished.py).
        finished.record(str(ctx.job.uuid), ctx.job.signed_spec)
    # Away for longer than the runner waits, the database gets the job's end later from
    # the heartbeat thread (ctx.record): the job is never left running.
    if outcome.state == Job.State.QUEUED:
        ctx.record(lambda: _requeue(ctx, outcome.attempt, **fields), "requeueing the job")
    else:
        ctx.record(lambda: _finish(ctx, outcome.state, **fields), "the job's end")
    return outcome


def _retry_or_fail(
    ctx: JobContext, outcome: Outcome, fields: dict[str, Any]
) -> tuple[Outcome, dict[str, Any]]:
    """A job that failed in a way worth a later try is queued again, unless its user asked
    to cancel it during this try, or its rows, as its end left them, no longer match its
    signature: its next try would be refused for that after the wait, in words that hide
    this failure (a kind that recorded a device it attached, a header's label read anew,
    another machine's write). Then it ends now, saying why (255/1, 261/1). Rows that cannot
    be read leave it queued: the next try's own checks say what they find, with this
    failure (``signing.refuse_unauthorised``); ``_requeue`` never queues it with a cancel
    asked."""
    words = fields.get("error") or outcome.detail
    row = _reload(ctx)
    if row is not None and row.state != Job.State.RUNNING:
        # Failed meanwhile by the sweep: that end stays (``_finish`` writes only a running
        # row); the log says why no retry comes. A row set back to queued (another
        # machine's write) is not run again here either (``finished``).
        ctx.log(f"failed: {words}; not tried again: the job had been {row.state} meanwhile")
        ended = row.state if row.state in Job.FINISHED else Job.State.FAILED
        return Outcome(ended, detail=words), {"error": words}
    changed = None if row is None else _changed_since_signed(ctx, row)
    if row is not None and row.cancel_requested:
        # Queued with the cancel asked, its message lost, it would wait for ever:
        # ``resend_lost`` leaves such a job alone.
        error = words if changed is None else _with_changed(words, changed, "Its")
        ctx.log(f"failed: {observe.full_stop(error)} Not tried again: a cancel was asked.")
        return Outcome(Job.State.CANCELLED, detail=error), {
            "error": error,
            "message": CANCEL_ASKED + words,
        }
    if changed is None:
        ctx.log(f"{words} (will try again in {outcome.retry_in or 0:.0f} s)")
        return outcome, fields
    error = _with_changed(words, changed, "Not tried again: its")
    ctx.log(f"failed: {error}")
    # The bar's words (255 characters) say the verdict first: the error keeps all of it.
    return Outcome(Job.State.FAILED, detail=error), {
        "error": error,
        "message": f"not tried again (rows changed since signing): {words}",
    }


def _with_changed(words: str, changed: str, its: str) -> str:
    """The failure, then how the job's rows differ from what was signed, and what to do."""
    return (
        f"{observe.full_stop(words)} {its} rows changed since signing ({changed}), "
        "so a retry would be refused; see what this try did (its log and the backend's "
        "page) before queueing it again."
    )


def _reload(ctx: JobContext) -> Job | None:
    """The job's rows as they are now; None when they cannot be read (the database away,
    a row it cannot load). Nothing here may leave the job running (259/3)."""
    try:
        row = best_effort(lambda: signing.load_job(ctx.job.pk), "the job's rows, after its try")
        return cast("Job | None", row)
    except Exception:
        log.exception("job %s: could not read its rows after its try", ctx.job.uuid)
        return None


def _changed_since_signed(ctx: JobContext, job: Job) -> str | None:
    """``signing.changed_since_signed`` of ``job``, the rows as they are now, against the
    specification verified at the claim; None when that cannot be told."""
    try:
        return signing.changed_since_signed(job, ctx.job.signed_spec)
    except Exception:
        log.exception("job %s: could not compare its rows with its signature", ctx.job.uuid)
        return None


def _run_handler(ctx: JobContext, attempt: int) -> tuple[Outcome, dict[str, Any]]:

    job = ctx.job
    try:
        handler = HANDLERS.get(job.kind)
        if handler is None:
            raise BackendError(f"this worker does not know how to run a {job.kind!r} job")
        if attempt:
            ctx.log(f"attempt {attempt + 1} of {MAX_RETRIES + 1}")
        if job.backend_id is not None:
            # Loaded with the job after the claim (``run``); a backend deleted before that
            # left the job none (SET_NULL), which its signature no longer matches.
            ctx.backend = job.backend
            if ctx.backend is None:  # only with foreign keys bypassed (raw SQL on SQLite)
                raise BackendError("the backend was deleted before the job started")
        # The rows this job runs on, as loaded now (the job's own reloaded by the claim),
        # once more against its signature, whatever the job: the gate in tasks.run_job ran
        # before the claim, on rows read a moment earlier.
        _verify(ctx)
        if ctx.backend is not None:
            if ctx.backend.reread_before_next_job or _untold_for(job, ctx.backend):
                # A job before this one ended without its worker's word, or the row cannot
                # tell whether its area is active: look again, once, and only at a row its
                # job was signed for (reviews 160/3, 161/5); check_not_indeterminate judges
                # that look, written only over the row as verified (reviews 161/1, 165/2).
                _look_again(ctx)
            check_not_adopted(job, ctx.backend)
            check_kind_can(job, ctx.backend)
            check_not_provisioned(job, ctx.backend)
            check_not_indeterminate(job, ctx.backend)
            attach_plugin(
                ctx,
                provisioning=job.kind == Job.Kind.PROVISION,
                force=signing.forced(job.params),
            )
        result = handler(ctx) or {}
        # A handler that returned is done: a cancel is honoured at its cancel points, where it
        # raises Cancelled, never after its work (review 214/2).
        _say_what_came_after(ctx)
        return Outcome(Job.State.SUCCEEDED), {"result": result}
    except Cancelled:
        failed_meanwhile = best_effort(
            lambda: Job.objects.filter(pk=job.pk).exclude(state=Job.State.RUNNING).exists(),
            "the job's state",
        )
        ctx.log(
            "stopped here, nothing more done: the job was failed meanwhile"
            if failed_meanwhile
            else "cancelled at the user's request"
        )
        return Outcome(Job.State.CANCELLED), {"message": "cancelled"}
    except BackendError as e:
        # ``said``, not ``e.message``: a third party's subclass may set no message, or set
        # one after ``__init__`` made it printable (review 177/8).
        words = said(e, limit=None)
        if e.retryable and attempt < MAX_RETRIES:
            # Whether it is tried again is for _retry_or_fail to judge, and to log.
            delay = RETRY_BASE_SECONDS * 2**attempt
            reason = f"retrying in {delay:.0f} s after: {words}"
            return Outcome(Job.State.QUEUED, retry_in=delay, attempt=attempt + 1, detail=words), {
                "reason": reason,
                "error": words,
            }
        ctx.log(f"failed: {words}")
        return Outcome(Job.State.FAILED, detail=words), {"error": words}
    except Exception as e:
        # The traceback goes to the worker's log; the row gets a sentence.
        log.exception("job %s (%s) crashed", job.uuid, job.kind)
        # ``said``: words that raise, are endless, or hold what no row keeps (a NUL, which
        # failed the job's write on PostgreSQL, leaving it running: review 176/4), an
        # OSError's type named.
        message = f"internal error in the worker: {said_typed(e)}"
        ctx.log(f"failed: {message} (the traceback is in the worker's log)")
        return Outcome(Job.State.FAILED, detail=message), {"error": message}


def _say_what_came_after(ctx: JobContext) -> None:
    """A cancel asked, or a failure by the sweep, after the handler's last cancel point:
    the work is done, and the log says so in the words of what came. The row is read once,
    for both: a job the sweep failed keeps its failure (``_finish`` writes only a running
    row), and is not told a cancel came too late when nobody asked one (review 214/3)."""
    row = best_effort(
        lambda: Job.objects.filter(pk=ctx.job.pk).values("cancel_requested", "state").first(),
        "the job's state",
    )
    if row is None:
        return
    done = ctx.past_cancel or f"the {ctx.job.kind_word} had done its work"
    if row["state"] != Job.State.RUNNING:
        ctx.log(f"the job was failed meanwhile by the sweep, but {done} all the same")
    elif row["cancel_requested"]:
        ctx.log(f"a cancel asked meanwhile came too late: {done}, and it is done")


#: What a backend whose store was never proven ours may still do.
UNPROVISIONED_JOBS = actions.BEFORE_PROVISION


def check_not_provisioned(job: Job, backend: Backend) -> None:
    """The request side refuses these already; the worker says it again (the plugin's own
    proof would refuse the write too: this names the reason first)."""
    if backend.provisioned_at is None and job.kind not in UNPROVISIONED_JOBS:
        raise NotOursError(
            f"{backend.name} was never provisioned (its store was never proven to be "
            f"swapadmin's), so a {job.kind_word} job is refused. {way_out_of_unproven(backend)}."
        )


def check_not_indeterminate(job: Job, backend: Backend) -> None:
    """A job that changes anything, on a row whose area may or may not be active (observed
    indeterminate), is refused before its plugin is attached: the request side refuses it
    already, but a queued job may come from before the verdict. Most handlers would fail to
    name the path anyway; a provision prepares the store before it asks."""
    if _untold_for(job, backend):
        # The action's word, as the request side's refusal says it ("this burn-in is refused").
        what = f"{job.kind_word} job"
        raise UnsafeError(indeterminate_reason(backend, what) + ".")


def _verify(ctx: JobContext, *, clock_now: bool = False) -> None:
    """The job's rows, as loaded now, against its signature; NotOursError if they differ.

    By the database's clock as the claim read it, or, with ``clock_now``, as it is now: a
    signature that expired during a slow look at the store is expired (review 165/7)."""
    db_now = None if clock_now else cast(Any, ctx.job).db_now  # run()'s annotation
    try:
        signing.verify_here(ctx.job, db_now=db_now)
    except signing.Unauthorised as e:
        # Nor is the row read at the job's end (_refresh): "nothing was done" holds for
        # the store the row now names, which this job was not signed for.
        ctx.backend = None
        raise NotOursError(e.message + signing.retried_after(ctx.job)) from None
    except BaseException:
        # Nor after a verify that could not finish (the database lost while the host was
        # loaded): the row is not proven, and _refresh would read the store it names
        # (review 165/4).
        ctx.backend = None
        raise


def _untold_for(job: Job, backend: Backend) -> bool:
    """Whether ``job`` changes something on a row whose area cannot be told active or not."""
    untold = backend.observed_state == Backend.Observed.INDETERMINATE
    return untold and job.kind not in actions.READS_ONLY


def check_not_adopted(job: Job, backend: Backend) -> None:
    """A job that would write an adopted area's bytes (the table's ``adopted_writes``) is
    refused here, before its plugin is attached or its store opened, and before the refusal of
    an unprovisioned row, whose way out would not help: the request side refuses it
    already, but a queued job may come from a row written past it."""
    spec = actions.BY_NAME.get(job.kind)
    if backend.adopted and spec is not None and spec.adopted_writes:
        raise UnsafeError(adopted_refusal(backend, spec))


def check_kind_can(job: Job, backend: Backend) -> None:
    """A job its row's kind cannot do (the table's ``kind_can``: a resize of a block device,
    a persist of a zram device) is refused here, before its plugin is attached: the request
    side refuses it already, but a queued job may come from a row written past it."""
    spec = actions.BY_NAME.get(job.kind)
    reason = None if spec is None else backend_kind_refusal(backend, spec)
    if reason is not None:
        raise ValidationError(f"{backend.name}: {reason}. Nothing was done.")


def _look_again(ctx: JobContext) -> None:
    """Read the backend's store again before the job goes on: a job before it ended without
    its worker's word (what the row says of the kernel may be what that job left half
    done), or the row cannot tell whether its area is active.

    The look reads the store the row names as verified; it may be slow, and the row may
    change meanwhile (another machine's write). So the row is then locked, reloaded and
    verified again, by the database's clock now, and only then is the look written and the
    flag cleared: a row changed meanwhile fails the job with the look thrown away and the
    flag kept for a job signed for the row as it is (reviews 161/1, 165/2). What the look
    writes (the header's label among it) was read from this backend's own store, so the
    job goes on with it; verified against the signature, it would fail the very job the
    look was for (review 165/3)."""
    backend = ctx.backend
    assert backend is not None
    seen = backend.reread_generation
    fields = read_observation(backend)  # outside the transaction: it reads the store
    if took_a_look(fields):
        fields["reread_before_next_job"] = False
    # else the plugin could not be built: nothing was read, and the reason to read stays
    # (review 167/7); the job fails on a refusal below, or at the attach of its plugin.
    with transaction.atomic():
        list(Backend.objects.select_for_update().filter(pk=backend.pk).values_list("pk"))
        try:
            backend.refresh_from_db()
        except Backend.DoesNotExist:
            # Deleted during the look (review 167/8): no row to write it over, no job.
            ctx.backend = None
            raise BackendError(
                f"backend {backend.name!r} was deleted while its store was read before this "
                "job; nothing was done"
            ) from None
        _verify(ctx, clock_now=True)
        if backend.reread_generation != seen:
            # Flagged again while the look read the store: a look after that is still owed
            # (reviews 172/8, 174/1); this job goes on with the look it took.
            fields.pop("reread_before_next_job", None)
        write_observation(backend, fields)


def _refresh(ctx: JobContext) -> None:
    if ctx.backend is None or ctx.backend_deleted:
        return
    backend, plugin = ctx.backend, ctx.plugin
    # A check runs beside the backend's other jobs and only reads: the state it read when
    # it started may be older than theirs, and must never overwrite it.
    keep_state = plugin is not None and ctx.job.kind not in actions.READS_ONLY

    def write() -> None:
        # The store is read first, outside the transaction: a slow read must not hold the
        # database's write lock (SQLite's is the whole database's) or the row's.
        fields = read_observation(backend, plugin)
        with transaction.atomic():
            if keep_state and plugin is not None:
                Backend.objects.filter(pk=backend.pk).update(state=dict(plugin.state))
            write_observation(backend, fields)

    try:
        # The plugin's state names the loop or zram device the job attached: losing it to
        # a database restart would orphan the device, so this write is kept too.
        ctx.record(write, "the backend's state")
    except Exception:
        log.exception("could not refresh the observed state of backend %s", ctx.backend.pk)


def _finish(
    ctx: JobContext,
    state: str,
    *,
    result: dict[str, Any] | None = None,
    error: str = "",
    message: str = "",
) -> None:
    fields = _end_fields(ctx, state, result=result, error=error, message=message)
    Job.objects.filter(pk=ctx.job.pk, state=Job.State.RUNNING).update(**fields)


def _end_fields(
    ctx: JobContext,
    state: str,
    *,
    result: dict[str, Any] | None = None,
    error: str = "",
    message: str = "",
) -> dict[str, Any]:
    """The fields a running job's end writes: ``_finish``'s, and the requeue's cancelled end."""
    fields: dict[str, Any] = {"state": state, "finished_at": Now()}
    if error or state != Job.State.CANCELLED or not ctx.job.attempt:
        # A retry cancelled at a cancel point keeps the failure it was for, as one
        # cancelled while it waited does; a first try has none to keep (words in its row
        # are another machine's), as ``services._end_queued`` rules too (264/4, 266/3).
        fields["error"] = error
    if result is not None:
        fields["result"] = result
    if state == Job.State.SUCCEEDED:
        fields.update(progress=100, progress_message=message or "done")
    else:
        fields["progress_message"] = (message or error or state)[:255]
    return fields


def _requeue(ctx: JobContext, attempt: int, *, reason: str, error: str) -> None:
    """Back to the queue, the failure kept whole in ``error`` while it waits: nothing else
    writes it then (the waiting reason is rewritten by a dispatch, a busy backend), and a
    refusal of the retry repeats it (``signing.refuse_unauthorised``). Never with a cancel
    asked: one asked after ``_retry_or_fail`` looked, or while it could not read the row,
    ends the job here (262/1). Run again after a reply the database lost (``ctx.record``),
    it finds no row of this try's attempt (its first run moved it on), as it finds none
    when a later claim of the job holds it (264/2, 266/4)."""
    job = Job.objects.filter(pk=ctx.job.pk, attempt=ctx.job.attempt)
    with transaction.atomic():
        row = job.select_for_update().values_list("state", "cancel_requested").first()
        if row is None:
            return
        state, asked = row
        if state == Job.State.RUNNING and not asked:
            # The row is locked: nothing changes it between the read and this write.
            job.update(
                state=Job.State.QUEUED,
                attempt=attempt,
                error=error,
                waiting_reason=reason[:255],
                progress_message="waiting to retry",
                worker="",
                worker_pid=None,
                boot_id="",
            )
            return
        # Cancelled, ended meanwhile (the sweep), or set back to queued by another
        # machine's write: this host runs it no more, said here before the database hears
        # of it, as ``_run_claimed`` says it of every other end.
        finished.record(str(ctx.job.uuid), ctx.job.signed_spec)
        if state == Job.State.RUNNING:
            job.update(
                **_end_fields(ctx, Job.State.CANCELLED, error=error, message=CANCEL_ASKED + error),
                log=ctx.log_line("not tried again after all: a cancel was asked meanwhile"),
            )
