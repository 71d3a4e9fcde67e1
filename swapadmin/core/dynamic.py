"""Dynamic swap on the control plane: each minute (``health.tasks.schedule_checks``) every
enabled policy of an online host gets one round here. The round reads the host's latest
sample (by the database's clock; a stale one decides nothing), finishes what an earlier
decision started (activate a file its provision made; destroy one its deactivate emptied;
activate again one whose destroy then failed),
then asks ``backends.dynamic.decide`` and does what it says with the same signed, audited
jobs as any backend (``services.create_backend`` / ``request_action``, actor "system").

A file the policy added stays the policy's until a person asks a job on it (page or API):
then it is theirs, the policy forgets it and never removes it. A swapoff the RAM check
refuses is recorded and tried again after the cool-down, never forced.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Now

from backends import dynamic
from backends.dynamic import Action, Decision, Held

from . import services
from .models import AuditEvent, Backend, DynamicSwapDecision, DynamicSwapPolicy, Host, Job, Sample

log = logging.getLogger(__name__)

#: Decisions kept per policy: the page shows the latest ones, the audit log keeps all jobs.
KEEP_DECISIONS = 50
#: What a person does to a backend that makes it theirs.
PERSON = (Job.Via.PAGE, Job.Via.API)
#: Decisions that count as acting, for the cool-down.
ACTING = (
    DynamicSwapDecision.Action.ADD,
    # A file turned on (one that was off, or an add's own: the cool-down then counts from
    # its activation, so adds are spaced by the cool-down plus the provision) counts too:
    # else an add followed the turning on of a file that was off within it (review 188/2).
    DynamicSwapDecision.Action.ACTIVATE,
    DynamicSwapDecision.Action.REMOVE,
    DynamicSwapDecision.Action.REFUSED,
)

D = DynamicSwapDecision.Action


def rules_of(policy: DynamicSwapPolicy) -> dynamic.Rules:
    return dynamic.Rules(
        min_free_bytes=policy.min_free_bytes,
        psi_some_above=policy.psi_some_above,
        file_size_bytes=policy.file_size_bytes,
        max_files=policy.max_files,
        max_total_bytes=policy.max_total_bytes,
        unused_for_seconds=policy.unused_for_seconds,
        cooldown_seconds=policy.cooldown_seconds,
    )


def db_now(host: Host) -> datetime:
    """The database's clock, the one heartbeats are written in."""
    now: datetime = (
        Host.objects.filter(pk=host.pk).annotate(n=Now()).values_list("n", flat=True).get()
    )
    return now


def _sample_clock_skew(host: Host) -> timedelta:
    """The database's clock minus the host's, as its latest sample showed them: the sampler
    writes the sample's ``at`` and ``Host.observed_at`` in the host's clock, and the
    heartbeat in the database's, in one transaction. Zero when it never sampled."""
    if host.last_heartbeat is None or host.observed_at is None:
        return timedelta(0)
    return host.last_heartbeat - host.observed_at


def latest_sample(host: Host) -> tuple[Sample, datetime] | None:
    """The host's latest raw sample and when it was taken by the database's clock, at the
    earliest it can have been. ``at`` is the host's clock: a sample from before the host's
    clock was set back (by NTP) carries a time later than every new one, so no sample later
    than the latest observation is taken for the latest; and of the two readings of its time
    (as written, and corrected by the skew the heartbeat shows) the older one counts, so
    neither a host clock ahead nor a heartbeat without a sample makes an old sample fresh."""
    samples = Sample.objects.filter(host=host, resolution=Sample.Resolution.RAW)
    if host.observed_at is not None:
        samples = samples.filter(at__lte=host.observed_at)
    sample = samples.order_by("-at").only("at", "swap_total", "swap_free", "psi_some_avg10").first()
    if sample is None:
        return None
    return sample, min(sample.at, sample.at + _sample_clock_skew(host))


def latest_reading(host: Host, now: datetime) -> dynamic.Reading | None:
    found = latest_sample(host)
    if found is None:
        return None
    sample, taken = found
    return dynamic.Reading(
        swap_total=sample.swap_total,
        swap_free=sample.swap_free,
        psi_some_avg10=sample.psi_some_avg10,
        age_seconds=(now - taken).total_seconds(),
    )


def _step_after_sample(host: Host) -> str:
    """What finished on the host after its latest sample was taken ("" if nothing did): a
    job that changed its swap (an activation the policy asked, a person's swapoff) makes
    that sample's free swap a figure of the past, and deciding from it adds a second file
    for a shortage the first already met, or removes a second file the first removal's
    figure still counted. The worker samples again at once (it wakes on /proc/swaps)."""
    found = latest_sample(host)
    if found is None:
        return ""
    _, taken = found
    job = (
        Job.objects.filter(host=host, finished_at__gte=taken)
        .exclude(kind=Job.Kind.CHECK)
        .order_by("-finished_at")
        .first()
    )
    if job is None:
        return ""
    what = (
        f"the {job.kind_word} of {job.backend_name}" if job.backend_name else f"the {job.kind_word}"
    )
    return f"a sample taken after {what} finished"


#: How long a sample of each resolution stands for: a minute's or an hour's average is
#: dated at its start, and a page it saw may have been there until its end.
SPANS = {
    Sample.Resolution.RAW: timedelta(0),
    Sample.Resolution.MINUTE: timedelta(minutes=1),
    Sample.Resolution.HOUR: timedelta(hours=1),
}


def _latest_on(backend: Backend) -> Job | None:
    """The latest activate of ``backend`` that succeeded, or None if none did. A round asks
    it once per file and hands it to every step that needs it (each asked it again)."""
    return (
        backend.jobs.filter(kind=Job.Kind.ACTIVATE, state=Job.State.SUCCEEDED)
        .order_by("-queued_at", "-pk")
        .only("queued_at", "finished_at", "backend_id")  # backend_id: no query per job
        .first()
    )


def _idle_seconds(backend: Backend, now: datetime, window: float, on: Job | None) -> float:
    """Seconds since ``backend`` was last seen holding more than its stray pages
    (``dynamic.stray_bytes``): 0 while it does; otherwise since the latest sample (within
    ``window``) that saw it so, or since it was activated (``on``, its latest activate that
    succeeded).
    Raw samples are kept two hours (core/retention.py): a longer window is read in the
    minute and hour roll-ups too (their peaks), else a file used three hours ago looked unused
    for as long as it had been active and went before its window. One query per resolution, the
    database finding the sample (the raw ones were each read and parsed here, every round)."""
    stray = dynamic.stray_bytes(backend.size_bytes or 0)
    if backend.used_bytes > stray:
        return 0.0
    activated = (on.finished_at if on is not None else None) or backend.created_at
    since = activated
    start = max(activated, now - timedelta(seconds=window))
    for resolution, span in SPANS.items():
        seen = (
            Sample.objects.filter(_held_more_than(str(backend.uuid), stray, resolution))
            .filter(host_id=backend.host_id, resolution=resolution, at__gte=start - span)
            .order_by("-at")
            .values_list("at", flat=True)
            .first()
        )
        if seen is not None:
            since = max(since, seen + span)
    return max(0.0, (now - since).total_seconds())


def _held_more_than(key: str, stray: int, resolution: str) -> Q:
    """Samples that saw the backend ``key`` hold more than ``stray`` bytes: a reading's own
    figure, a roll-up's peak (its average would hide a burst). A roll-up made before peaks
    were kept has only its average: any page in it counts, as it did then."""
    if resolution == Sample.Resolution.RAW:
        return Q(**{f"backends__{key}__gt": stray})
    return Q(**{f"backends_peak__{key}__gt": stray}) | Q(
        backends_peak__isnull=True, **{f"backends__{key}__gt": 0}
    )


def _file(
    backend: Backend, now: datetime, policy: DynamicSwapPolicy, on: Job | None
) -> dynamic.File:
    # Provisioned: a row whose provision never completed reads READY once a file is at its
    # path, and its activate is refused: every round failed, no add came (review 188/1).
    there = (
        backend.provisioned_at is not None
        and not backend.adopted
        and backend.observed_state == Backend.Observed.READY
    )
    # The wait after failed activates: a swapon refused (MAX_SWAPFILES) was asked again
    # every round (188/3). Asked of a file that is there only: no query for the others,
    # whose count nothing reads (``dynamic.File.failed_turn_ons``).
    failures, left = (
        _failed_activates(backend, now, policy.cooldown_seconds, on) if there else (0, 0.0)
    )
    return dynamic.File(
        name=backend.name,
        size_bytes=backend.size_bytes or 0,
        used_bytes=backend.used_bytes,
        active=backend.observed_state == Backend.Observed.ACTIVE,
        idle_seconds=_idle_seconds(backend, now, policy.unused_for_seconds, on),
        untold=backend.observed_state == Backend.Observed.INDETERMINATE,
        kept=_kept(backend, now, policy.cooldown_seconds),
        ready=there and left <= 0,
        waiting=there and left > 0,
        failed_turn_ons=failures,
        # Gone, or never made. Not ERROR (a read that failed, a header it cannot use: the
        # file may well be there, and the error pass), UNKNOWN or FOREIGN: none of them is
        # removed to make room as "not there" (review 194/2).
        absent=backend.provisioned_at is None or backend.observed_state == Backend.Observed.ABSENT,
    )


def _backoff(
    failed: QuerySet[Job], now: datetime, cooldown: float
) -> tuple[int, float, Job | None]:
    """How many of ``failed`` there are (up to 64), the seconds left of the wait
    ``dynamic.retry_after`` sets for as many since the latest (0 or less: passed), and that
    latest job."""
    latest = failed.order_by("-queued_at", "-pk").first()
    if latest is None:
        return 0, 0.0, None
    count = failed[:64].count()
    wait = dynamic.retry_after(count, cooldown)
    return count, wait - (now - (latest.finished_at or latest.queued_at)).total_seconds(), latest


def _failed_activates(
    backend: Backend, now: datetime, cooldown: float, on: Job | None
) -> tuple[int, float]:
    """The activates of ``backend`` that failed since ``on``, the latest that succeeded,
    and the seconds left of the wait they set."""
    failed = backend.jobs.filter(
        kind=Job.Kind.ACTIVATE, state__in=(Job.State.FAILED, Job.State.CANCELLED)
    )
    if on is not None:
        failed = failed.filter(queued_at__gt=on.queued_at)
    count, left, _ = _backoff(failed, now, cooldown)
    return count, left


def _kept(backend: Backend, now: datetime, cooldown: float) -> str:
    """Why the policy may not remove ``backend`` now, or "". Its store may be on a
    filesystem that is not mounted: its destroy is refused until that can be told (review
    182/4). Or destroys of it failed (for any reason: a mount table that cannot be read
    refuses even a file that is there), and the wait ``dynamic.retry_after`` sets for as
    many since the latest has not passed: each round asked it again (review 183/1). All
    its failed destroys count, whatever came between (a cancel, a check, the policy's own
    swapoff and activate again): the wait only grows, up to its bound (184/4)."""
    if backend.store_may_be_hidden:
        why = str(backend.observed_error).removeprefix(Backend.HIDDEN_SAID)
        return f"its store may be on a filesystem that is not mounted ({why[:300]})"
    failed = backend.jobs.filter(kind=Job.Kind.DESTROY, state=Job.State.FAILED)
    count, left, latest = _backoff(failed, now, cooldown)
    if latest is None or left <= 0:
        return ""
    return (
        f"{count} destroy(s) of it failed, the latest: {(latest.error or 'no error')[:300]}; "
        f"tried again in {left:.0f} s"
    )


def _record(
    policy: DynamicSwapPolicy,
    now: datetime,
    action: str,
    reason: str,
    *,
    name: str = "",
    job: Job | None = None,
) -> DynamicSwapDecision:
    row = DynamicSwapDecision.objects.create(
        policy=policy, at=now, action=action, backend_name=name, reason=reason, job=job
    )
    old = policy.decisions.order_by("-at", "-pk").values_list("pk", flat=True)[KEEP_DECISIONS:]
    DynamicSwapDecision.objects.filter(pk__in=list(old)).delete()
    return row


def _status(policy: DynamicSwapPolicy, now: datetime, reason: str) -> None:
    DynamicSwapPolicy.objects.filter(pk=policy.pk).update(status=reason, decided_at=now)
    policy.status, policy.decided_at = reason, now


def _swapped_off_for(backend: Backend, destroy: Job) -> bool:
    """Whether the job before ``destroy`` was a swapoff of the file that succeeded: the
    policy's removal of an active file, half done."""
    before = (
        backend.jobs.exclude(kind=Job.Kind.CHECK)
        .exclude(pk=destroy.pk)
        .filter(queued_at__lte=destroy.queued_at)
        .order_by("-queued_at", "-pk")
        .first()
    )
    return (
        before is not None
        and before.kind == Job.Kind.DEACTIVATE
        and before.state == Job.State.SUCCEEDED
        # READY: the file is there and off. Not ABSENT or another ERROR, whose activate
        # would fail and have a destroy asked at once, past the wait (review 185/4).
        and backend.observed_state == Backend.Observed.READY
    )


def _last_job(backend: Backend) -> Job | None:
    return backend.jobs.exclude(kind=Job.Kind.CHECK).order_by("-queued_at", "-pk").first()


def _release_touched(policy: DynamicSwapPolicy, now: datetime) -> None:
    """A file a person changed or asked a job on (the audit trail says so: an edit saved
    without a job too) is theirs from then on. Reading it (a check) changes nothing."""
    for backend in policy.files.all():
        touched = (
            AuditEvent.objects.filter(object_uuid=backend.uuid, via__in=PERSON)
            .exclude(action=Job.Kind.CHECK)
            .exclude(outcome=AuditEvent.Outcome.REFUSED)
            .order_by("-at")
            .first()
        )
        if touched is None:
            continue
        Backend.objects.filter(pk=backend.pk).update(dynamic_policy=None)
        _record(
            policy,
            now,
            D.RELEASED,
            f"{touched.actor_name} asked {touched.action} of {backend.name}: it is theirs now, "
            "the policy no longer counts or removes it",
            name=backend.name,
        )


def _follow_up(policy: DynamicSwapPolicy, now: datetime, ons: dict[int, Job | None]) -> bool:
    """Take the next step of what an earlier decision started; True if a job was queued or
    one still runs (the round then decides nothing new). ``ons``: each file's latest
    activate that succeeded (``_latest_ons``)."""
    actor = services.Actor.system()
    for backend in policy.files.select_related("host"):
        last = _last_job(backend)
        if last is None:
            continue
        if last.state in Job.LIVE:
            return True
        if backend.observed_state == Backend.Observed.INDETERMINATE or backend.store_may_be_hidden:
            # Its next step would be refused (services.indeterminate_reason), or would fail
            # (a store that may be hidden: a file not found is not activated, and its
            # destroy asks first), and the round with it: the other files' steps, and an add
            # under pressure, go on meanwhile.
            continue
        ok = last.state == Job.State.SUCCEEDED
        kind = last.kind
        if kind == Job.Kind.PROVISION and ok and backend.observed_state != Backend.Observed.ACTIVE:
            job = services.request_action(backend, Job.Kind.ACTIVATE, actor)
            _record(policy, now, D.ACTIVATE, f"{backend.name} is provisioned: activating it",
                    name=backend.name, job=job)  # fmt: skip
            return True
        if (
            kind in (Job.Kind.PROVISION, Job.Kind.ACTIVATE)
            and not ok
            and not (
                # A file that was on and whose activate failed (turned on again after a reboot,
                # or after a failed destroy) is kept, off: the next try waits (``File.waiting``);
                # ``decide`` removes it when unused, as any file that is off, or at a limit
                # while swap is short after ``MAKE_ROOM_AFTER`` failures (188/3, 190/2, 192/1).
                # An activate of it ever succeeded: the file is good, and one that fails (a
                # swapon refused for the host's sake) is no reason to delete it.
                kind == Job.Kind.ACTIVATE and _on(ons, backend) is not None
            )
        ):
            job = services.request_action(backend, Job.Kind.DESTROY, actor)
            _record(policy, now, D.DESTROY,
                    f"the {kind} of {backend.name} {last.state} ({last.error or 'no error'}): "
                    "removing what it left", name=backend.name, job=job)  # fmt: skip
            return True
        if kind == Job.Kind.DEACTIVATE and ok:
            job = services.request_action(backend, Job.Kind.DESTROY, actor)
            _record(policy, now, D.DESTROY, f"{backend.name} is swapped off: deleting its file",
                    name=backend.name, job=job)  # fmt: skip
            return True
        if kind == Job.Kind.DESTROY and not ok and _swapped_off_for(backend, last):
            # The policy's swapoff went through, its destroy did not (a mount table that
            # cannot be read refuses it, never a swapoff): the file is on again, not left
            # off for ever, counted and never used (review 184/1). Its removal is asked
            # again after the wait its failed destroys set (``_kept``).
            job = services.request_action(backend, Job.Kind.ACTIVATE, actor)
            _record(policy, now, D.ACTIVATE,
                    f"the destroy of {backend.name} failed ({(last.error or 'no error')[:300]}): "
                    "activating it again", name=backend.name, job=job)  # fmt: skip
            return True
        refused = kind == Job.Kind.DEACTIVATE and not ok
        if refused and not policy.decisions.filter(job=last, action=D.REFUSED).exists():
            # The area keeps its pages and stays on: it is wanted active until a later
            # round finds RAM for them. Never forced.
            Backend.objects.filter(pk=backend.pk).update(desired_state=Backend.Desired.ACTIVE)
            why = (
                f"swapoff of {backend.name} refused, it stays active and is tried again "
                f"after the cool-down: {last.error}"
            )
            _record(policy, now, D.REFUSED, why, name=backend.name, job=last)
    return False


def _in_flight(policy: DynamicSwapPolicy) -> str:
    job = (
        Job.objects.filter(backend__dynamic_policy=policy, state__in=Job.LIVE)
        .exclude(kind=Job.Kind.CHECK)
        .order_by("queued_at")
        .first()
    )
    return f"the {job.kind_word} job of {job.backend_name} ({job.state})" if job else ""


def _since_last_action(policy: DynamicSwapPolicy, now: datetime) -> float | None:
    last = policy.decisions.filter(action__in=ACTING).order_by("-at").first()
    return None if last is None else (now - last.at).total_seconds()


def _finishing_room(policy: DynamicSwapPolicy, now: datetime) -> frozenset[str]:
    """The files the room plan under way still has to remove: those the policy's latest
    action named as to go too (``dynamic.still_to_go``) when it removed a file to make
    room, a file of it whose wait has passed going rather than being tried again
    (``dynamic._room_rank``). Only while that removal is recent: within the cool-down and
    the longest wait between tries (a destroy that keeps failing), the time the next
    round of a plan takes at most. A plan the shortage's end left (no "enough" is recorded)
    is over, and binds no shortage days later (review 206/2)."""
    last = policy.decisions.filter(action__in=ACTING).order_by("-at", "-pk").first()
    if last is None or last.action != D.REMOVE:
        return frozenset()
    within = rules_of(policy).cooldown_seconds + dynamic.MAX_RETRY_SECONDS
    if not 0 <= (now - last.at).total_seconds() <= within:
        return frozenset()
    return dynamic.still_to_go(last.reason)


def _failed_add(policy: DynamicSwapPolicy, add: DynamicSwapDecision) -> str:
    """Why the file ``add`` made never came into use (its provision or its activation
    failed or was cancelled), or "" if it did or is still on its way."""
    steps = [add.job]
    activation = (
        policy.decisions.filter(action=D.ACTIVATE, backend_name=add.backend_name, at__gte=add.at)
        .select_related("job")
        .order_by("at", "pk")
        .first()
    )
    if activation is not None:
        steps.append(activation.job)
    for job in steps:
        if job is not None and job.state in (Job.State.FAILED, Job.State.CANCELLED):
            return (
                f"the {job.kind_word} of {job.backend_name} {job.state}: {job.error or 'no error'}"
            )
    return ""


def _failed_adds(policy: DynamicSwapPolicy) -> list[tuple[DynamicSwapDecision, str]]:
    """The latest adds that failed in a row, newest first, each with why."""
    out = []
    for add in policy.decisions.filter(action=D.ADD).select_related("job")[:10]:
        failed = _failed_add(policy, add)
        if not failed:
            break
        out.append((add, failed))
    return out


def _adds_held(policy: DynamicSwapPolicy, now: datetime) -> str:
    """Why no file may be added yet: the latest adds failed in a row (a full disk, a swap
    root gone), and the wait ``dynamic.retry_after`` sets since the latest has not passed."""
    failed = _failed_adds(policy)
    if not failed:
        return ""
    latest, why = failed[0]
    wait = dynamic.retry_after(len(failed), policy.cooldown_seconds)
    left = wait - (now - latest.at).total_seconds()
    if left <= 0:
        return ""
    return f"the latest {len(failed)} add(s) failed ({why[:300]}): trying again in {left:.0f} s"


def _taken_names(host: Host) -> set[str]:
    """Names a new file may not have: every backend's on the host that starts with ``dyn-``,
    and the file name of every backend's path in the swap root the policy uses. A person may
    not name a backend ``dyn-1`` but may put their file at ``<root>/dyn-1``: the policy's
    dyn-1 then failed its provision on that file (which is not its own, so nothing was lost)
    at every try, for ever, and never added swap again."""
    taken = set(
        Backend.objects.filter(host=host, name__startswith=dynamic.RESERVED_PREFIX).values_list(
            "name", flat=True
        )
    )
    if host.swap_roots:
        root = Path(host.swap_roots[0])
        for params in Backend.objects.filter(host=host).values_list("params", flat=True):
            path = params.get("path") if isinstance(params, dict) else None
            if isinstance(path, str) and Path(path).parent == root:
                taken.add(Path(path).name)
    return taken


def _latest_ons(policy: DynamicSwapPolicy) -> dict[int, Job | None]:
    """Each file's latest activate that succeeded (``_latest_on``), by the backend's key."""
    return {backend.pk: _latest_on(backend) for backend in policy.files.all()}


def _on(ons: dict[int, Job | None], backend: Backend) -> Job | None:
    # A file not read when ``ons`` was (none should be: only a round adds one) is asked now.
    return ons[backend.pk] if backend.pk in ons else _latest_on(backend)


def run_policy(policy: DynamicSwapPolicy) -> Decision:
    """One round of ``policy``: the decision, acted on. Serialised per policy by its row's
    lock, so two rounds at once cannot both add. The policy's row only, not its host's
    (select_related would lock both): the round goes on to lock a backend's row, and a
    job's claim holds the host's before its backend's (plugins.record_store), while an edit
    holding a backend's row needs the host's at commit (its job's foreign key)."""
    with transaction.atomic():
        policy = (
            DynamicSwapPolicy.objects.select_for_update(of=("self",))
            .select_related("host")
            .get(pk=policy.pk)
        )
        if not policy.enabled:
            # Read again under the lock: turned off while this round waited for it (the
            # list of enabled policies is read before), it must not act any more.
            return Decision(Action.NONE, "dynamic swap is off", held=Held.OFF)
        host = policy.host
        now = db_now(host)
        reading = latest_reading(host, now)
        stale_after = settings.SWAPADMIN_OFFLINE_AFTER_SECONDS
        busy = ""
        fresh = reading is not None and reading.age_seconds <= stale_after
        if fresh:
            # Nothing is queued for a host not heard from: it decides nothing, and finishes
            # nothing either.
            _release_touched(policy, now)
        # Asked once per file and round, after the files a person took are let go: the
        # follow-ups and every file's figures read it (a job queued meanwhile has not
        # succeeded yet).
        ons = _latest_ons(policy)
        if fresh:
            if _follow_up(policy, now, ons):
                busy = _in_flight(policy) or "the step just queued"
            else:
                busy = _step_after_sample(host)
        situation = dynamic.Situation(
            in_flight=busy,
            # After the follow-ups: a refusal just recorded starts a cool-down too.
            since_last_action=_since_last_action(policy, now),
            stale_after_seconds=stale_after,
            adds_held=_adds_held(policy, now),
            finishing_room=_finishing_room(policy, now),
        )
        files = list(policy.files.all())
        decision = dynamic.decide(
            rules_of(policy),
            reading,
            [_file(b, now, policy, _on(ons, b)) for b in files],
            situation,
            # The names of the adds that just failed too: a file no backend holds may sit at
            # <root>/dyn-1 (made by hand, or kept by a destroy because it was not the
            # policy's); the next try takes another name rather than fail on it for ever.
            taken_names=_taken_names(host) | {a.backend_name for a, _ in _failed_adds(policy)},
        )
        _act(policy, now, decision, {b.name: b for b in files})
        _status(policy, now, decision.reason)
    return decision


def _act(
    policy: DynamicSwapPolicy, now: datetime, decision: Decision, files: dict[str, Backend]
) -> None:
    actor = services.Actor.system()
    if decision.action == Action.ADD:
        job = _add(policy, decision.name, actor)
        _record(policy, now, D.ADD, decision.reason, name=decision.name, job=job)
    elif decision.action == Action.ACTIVATE:
        # Spaced like any step: held while its job is in flight, then until a sample taken
        # after it finished (``_step_after_sample``), and the cool-down. One that fails is
        # kept, off, and tried again after a wait (``File.waiting``); at a limit while swap
        # is short it makes room after a few (``dynamic._make_room``).
        job = services.request_action(files[decision.name], Job.Kind.ACTIVATE, actor)
        _record(policy, now, D.ACTIVATE, decision.reason, name=decision.name, job=job)
    elif decision.action == Action.REMOVE:
        backend = files[decision.name]
        # An active file goes in two jobs, a swapoff then a destroy, so that a swapoff the
        # RAM check refuses is recorded and the area wanted on (``_follow_up``), and one
        # whose destroy then fails is turned on again. (In one job, a destroy failing after
        # its own swapoff left the file off and wanted absent: review 186/1.)
        # The swapoff is asked as one made to change the store: refused, the area left on,
        # while another name reaches the file, which the destroy would refuse (236/1).
        if backend.observed_state == Backend.Observed.ACTIVE:
            job = services.request_action(backend, Job.Kind.DEACTIVATE, actor, {"to_change": True})
        else:
            job = services.request_action(backend, Job.Kind.DESTROY, actor)
        _record(policy, now, D.REMOVE, decision.reason, name=decision.name, job=job)
    elif decision.held == Held.LIMIT:
        # A lasting state worth its row, once: not one per minute while it lasts.
        latest = policy.decisions.order_by("-at", "-pk").first()
        if latest is None or latest.action != D.NONE:
            _record(policy, now, D.NONE, decision.reason)


def _add(policy: DynamicSwapPolicy, name: str, actor: services.Actor) -> Job:
    host = policy.host
    if not host.swap_roots:
        raise services.InvalidRequest.one("swap_roots", f"{host.name} reports no swap root")
    path = Path(host.swap_roots[0]) / name
    return services.create_backend(
        host=host,
        kind="file",
        name=name,
        size_bytes=policy.file_size_bytes,
        actor=actor,
        params={"path": str(path)},
        priority=policy.priority,
        label=name[:16],
        dynamic_policy=policy,
    )


def run_all() -> int:
    """A round for every enabled policy of an online host; returns how many acted. One
    policy's failure (a bad swap root, a conflict) is logged and recorded, and the others
    still get their round."""
    acted = 0
    policies = DynamicSwapPolicy.objects.filter(
        enabled=True, host__in=Host.objects.online()
    ).order_by("pk")
    for policy in policies:
        try:
            decision = run_policy(policy)
        except (services.InvalidRequest, services.Conflict, services.NotReady) as e:
            log.warning("dynamic swap of host %s: %s", policy.host_id, e)
            with transaction.atomic():
                now = db_now(policy.host)
                _status(policy, now, f"could not act: {e}")
            continue
        acted += decision.action != Action.NONE
    return acted


# ---- editing a policy (the page and the API) ----

FIELDS = (
    "enabled",
    "min_free_bytes",
    "psi_some_above",
    "file_size_bytes",
    "max_files",
    "max_total_bytes",
    "unused_for_seconds",
    "cooldown_seconds",
    "priority",
)


def policy_for(host: Host) -> DynamicSwapPolicy:
    """The host's policy; a fresh host has one, off, with the defaults."""
    policy, _ = DynamicSwapPolicy.objects.get_or_create(host=host)
    return policy


def update_policy(host: Host, changes: dict[str, Any], actor: services.Actor) -> DynamicSwapPolicy:
    """Apply ``changes`` (already typed by the form or serializer) after the rules check
    them together; InvalidRequest names the field and nothing is saved. Audited."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise services.InvalidRequest.one(sorted(unknown)[0], "not a field of the policy")
    with transaction.atomic():
        policy = DynamicSwapPolicy.objects.select_for_update().get(pk=policy_for(host).pk)
        before = {f: getattr(policy, f) for f in FIELDS}
        for name, value in changes.items():
            setattr(policy, name, value)
        wrong = dynamic.problems(rules_of(policy))
        if policy.priority is not None and not 0 <= policy.priority <= services.MAX_PRIORITY:
            wrong["priority"] = f"priority must be from 0 to {services.MAX_PRIORITY}"
        if policy.enabled and not host.swap_roots:
            wrong["enabled"] = f"{host.name} reports no swap root to put files in"
        if wrong:
            raise services.InvalidRequest({k: [v] for k, v in wrong.items()})
        policy.save()
        changed = {
            f: [before[f], getattr(policy, f)] for f in FIELDS if before[f] != getattr(policy, f)
        }
        services.audit(actor, "dynamic_swap", host, "ok", {"changed": changed})
    return policy


def decisions(policy: DynamicSwapPolicy, limit: int = 10) -> list[DynamicSwapDecision]:
    return list(policy.decisions.select_related("job").order_by("-at", "-pk")[:limit])
