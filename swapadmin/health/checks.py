"""Checks, on the host's worker: run the probes, store the results, update the current
health, raise an event on a change of status, and queue a drift repair when asked to.

Two ways in. ``run_round(host)`` is the scheduled round (``tasks.check_host``, one message
per host a minute): every backend of the host and the host itself, with no Job row, so a
fleet's checks leave results, not millions of jobs. ``run_backend_check(job)`` is a check
someone asked for (the page's or the API's "check now"), a job of kind ``check`` whose
return value becomes ``job.result``. A backend check also stores a host-level result
(memory pressure, swap-in rate, total swap use), because those belong to the host.

Either way a check only reads: it opens stores read-only, never writes one, never swaps on
or off, never edits the fstab. What it finds wanting is done by a signed job (a repair).
"""

from __future__ import annotations

import logging
import os
import stat
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from backends import BackendError, Policy, SwapBackend
from swapadmin.core import plugins, signing
from swapadmin.core.context import JobContext
from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.observe import read_observation
from swapadmin.core.services import live_job_for

from . import probes
from .models import BackendHealth, CheckResult, HealthEvent, HostHealth, Status, worst
from .probes import Finding, Thresholds

log = logging.getLogger(__name__)


def check(ctx: JobContext) -> dict[str, Any]:
    """The ``check`` job's handler on the worker, registered by ``HealthConfig.ready()``."""
    return run_backend_check(ctx.job)


def run_backend_check(job: Job) -> dict[str, Any]:
    """Check ``job.backend`` (or only the host when the job has no backend) and record it."""
    job = Job.objects.select_related("host", "backend__host").get(pk=job.pk)
    th = Thresholds.from_settings()
    host = job.host
    out: dict[str, Any] = {}
    if job.backend is not None:
        result, repair = check_backend(host, job.backend, th, job)
        out.update(_result_dict(result))
        if repair is not None:
            out["repair_job"] = str(repair.uuid)
    host_result = None if job.backend is None else recent_host_result(host, th)
    if host_result is None:
        host_result = check_host_level(host, th, job)
    out["host"] = _result_dict(host_result)
    if job.backend is None:
        out.update(_result_dict(host_result))
    return out


def run_round(host: Host) -> dict[str, str]:
    """The scheduled round on ``host``'s own worker: every backend of the host (rows of this
    host only, the caller having proven the host is this machine), then the host itself.
    Returns each result's status by backend uuid, and the host's under "host".

    No signature is needed, unlike a job's: a round only reads (see the module's
    docstring), and the plugin is rebuilt from the row with this worker's own policy, so a
    row edited to point outside the swap roots is refused here as in a job. It must stay
    that way: anything that acts on the host belongs in a signed job, never in a round."""
    th = Thresholds.from_settings()
    statuses: dict[str, str] = {}
    backends = (
        Backend.objects.filter(host=host)
        .exclude(desired_state=Backend.Desired.ABSENT)
        .select_related("host")
        .order_by("pk")
    )
    for backend in backends:
        try:
            result, _ = check_backend(host, backend, th, None)
        except Exception:
            # One area's broken check (a bug, a database hiccup) must not cost the others
            # theirs: said in the worker's log, tried again next round.
            log.exception("the check of %s failed", backend)
            continue
        statuses[str(backend.uuid)] = result.status
    statuses["host"] = check_host_level(host, th, None).status
    return statuses


def check_backend(
    host: Host, backend: Backend, th: Thresholds, job: Job | None
) -> tuple[CheckResult, Job | None]:
    """Probe one backend and record the result; returns it and the repair queued, if any.

    A round holds no lock a job waits for, so a job may be asked for, run and finish while
    the probes look (a deactivate swaps off in a moment). What they saw is then a moment of
    that job, judged against what the user asked before it: recorded as a verdict it would
    say "should be active" and have the control plane's repair undo the user's deactivate.
    So the row is read afresh first, the newest job noted, and the verdict is kept only if,
    with the row locked (a request waits for the lock), no job came and the row still asks
    for what the probes were judged against."""
    backend.refresh_from_db()
    seen = _newest_job(backend)
    holder = live_job_for(backend)
    if holder is not None:
        # A job is changing the area right now: what we would see is a moment of it.
        return _busy(host, backend, job, holder.doing), None
    if backend.observed_state == Backend.Observed.INDETERMINATE:
        _look_again(backend)
    findings = backend_findings(backend, th)
    with transaction.atomic():
        moved = _moved_since(backend, seen)
        if moved:
            return _busy(host, backend, job, moved), None
        result = record_result(host, backend, job, findings)
    if job is None or signing.signing_key() is None:
        # A scheduled round is an unsigned message and acts on nothing, even where this
        # process could sign (one machine: `make run`); a fleet host's worker holds no key.
        # The control plane queues the repair from this result (tasks.repair_drifted, run
        # each minute before the rounds are sent).
        return result, None
    # A check someone asked for is a signed job: where jobs can be signed, its repair is
    # queued at once.
    from .repair import maybe_repair

    return result, maybe_repair(backend, result.findings)


#: The row's columns a verdict is judged against (check_drift, check_fstab, ...).
_ASKED = ("desired_state", "persist", "priority", "params", "state", "swap_uuid", "label")


def _look_again(backend: Backend) -> None:
    """Observe ``backend`` thoroughly again: no sample clears "cannot tell whether it is
    active" (it skips such a row), so each round looks, and a boot id or sysfs readable
    again ends the verdict without waiting for a person or a job. Written only over that
    verdict (a job that ended meanwhile wrote a fresher look) and read outside any
    transaction (the read may be slow)."""
    try:
        plugin = plugins.build_plugin(backend, Policy.from_env())
    except BackendError as e:
        # "Cannot build the plugin" is no answer to "is it active": the verdict stays (an
        # ERROR written here would let the next sample guess from the path last seen).
        log.warning("cannot look at %s again: %s", backend, e.message)
        return
    try:
        fields = read_observation(backend, plugin)  # closes the plugin
    except Exception:  # a third party's bug: its check goes on, the verdict stays
        log.exception("cannot look at %s again", backend)
        return
    # Over that verdict, as the round read it: a job's own look since is fresher.
    Backend.objects.filter(
        pk=backend.pk,
        observed_state=Backend.Observed.INDETERMINATE,
        observed_at=backend.observed_at,
    ).update(**fields)
    backend.refresh_from_db()


def _newest_job(backend: Backend) -> int:
    """The id of the newest job (not a check) of ``backend``; 0 for none."""
    jobs = Job.objects.filter(backend_id=backend.pk).exclude(kind=Job.Kind.CHECK)
    return jobs.aggregate(newest=Max("pk"))["newest"] or 0


def _moved_since(backend: Backend, seen: int) -> str:
    """Why the probes of ``backend`` are no verdict (a job queued since ``seen`` or live,
    or the row changed under them), or "" when they are. Call in a transaction: the row is
    locked, so a request waits until the result is recorded."""
    if not Backend.objects.filter(pk=backend.pk).exists():
        return "the backend was deleted meanwhile"
    # The health row first, then the backend's: the order maybe_repair takes them in (a
    # repair queued by the control plane meanwhile must not deadlock with this).
    BackendHealth.objects.get_or_create(backend=backend)
    BackendHealth.objects.select_for_update().filter(backend=backend).first()
    row = Backend.objects.select_for_update().filter(pk=backend.pk).values(*_ASKED).get()
    jobs = Job.objects.filter(backend_id=backend.pk).exclude(kind=Job.Kind.CHECK)
    newer = jobs.filter(Q(pk__gt=seen) | Q(state__in=Job.LIVE)).order_by("pk").first()
    if newer is not None:
        return f"{newer.kind_word} job {newer.uuid} ran while it was looked at ({newer.state})"
    changed = [name for name in _ASKED if row[name] != getattr(backend, name)]
    if changed:
        return f"its {', '.join(changed)} changed while it was looked at"
    return ""


def _busy(host: Host, backend: Backend, job: Job | None, why: str) -> CheckResult:
    """A result saying the look was a moment of a change: stored (the page shows it), but
    no verdict: the backend's health, events and repairs wait for the next look."""
    finding = probes.ok("busy", f"skipped: {why}")
    return record_result(host, backend, job, [finding], update_health=False)


def check_host_level(host: Host, th: Thresholds, job: Job | None) -> CheckResult:
    findings = probes.check_host_swap(th) + probes.check_pressure(host, th)
    return record_result(host, None, job, findings)


def recent_host_result(host: Host, th: Thresholds) -> CheckResult | None:
    """The host-level result of a check moments ago: the checks of a host's backends come
    together every minute, and one look at the host's pressure serves them all."""
    since = timezone.now() - timedelta(seconds=th.host_check_seconds)
    return (
        CheckResult.objects.filter(host=host, backend=None, at__gte=since).order_by("-at").first()
    )


def _result_dict(result: CheckResult) -> dict[str, Any]:
    return {
        "result": str(result.uuid),
        "status": result.status,
        "findings": result.findings,
        "checked_at": result.at.isoformat(),
    }


def plugin_to_probe(backend: Backend) -> tuple[SwapBackend | None, str]:
    """``backend``'s plugin (``core.plugins.build_plugin``, the one place a row becomes a
    plugin) and "", or None and why it was not built: a probe reports the why as a finding
    instead of failing the round."""
    problem = _not_a_device(backend)
    if problem:
        return None, problem
    try:
        plugin = plugins.build_plugin(backend, Policy.from_env())
    except BackendError as e:
        return None, e.message
    return plugin, ""


def _not_a_device(backend: Backend) -> str:
    """Why the device a loop or zram row names (``state["device"]``, opened by the probes
    with a plain open) must not be opened, or "". The row is not signed in a round, and
    opening a node runs its driver: a watchdog armed, a FIFO that blocks this worker for
    good. Only a block device, or nothing (a loop device detached), is looked at."""
    state = backend.state if isinstance(backend.state, dict) else {}
    if "device" not in state or state["device"] is None:
        return ""
    dev = state["device"]
    if not isinstance(dev, str) or not dev.startswith("/dev/"):
        return f"its recorded device {dev!r} is not a path under /dev/; nothing was opened"
    try:
        st = os.lstat(dev)
    except FileNotFoundError:
        return ""
    except OSError as e:
        return f"cannot stat its recorded device {dev}: {e.strerror}; nothing was opened"
    if not stat.S_ISBLK(st.st_mode):
        return f"its recorded device {dev} is not a block device; nothing was opened"
    return ""


def backend_findings(backend: Backend, th: Thresholds | None = None) -> list[Finding]:
    """Every host-side probe of one backend, read-only."""
    th = th or Thresholds.from_settings()
    plugin, error = plugin_to_probe(backend)
    t = probes.target_for(backend, plugin, error)
    try:
        findings = list(t.findings)
        identity = probes.check_identity(t)
        findings += identity
        findings += probes.check_store(t)
        findings += probes.check_free_space(t, th)
        findings += probes.check_header(t)
        drift = probes.check_drift(t)
        if any(f.status == Status.FAIL for f in identity):
            # Repairing drift would activate someone else's store: report it, repair nothing.
            for f in drift:
                if isinstance(f.value, dict):
                    f.value.pop("repair", None)
        findings += drift
        findings += probes.check_used(t, th)
        findings += probes.check_compressed_memory(t, th)
        findings += probes.check_fstab(t, settings.SWAPADMIN_FSTAB)
        findings += probes.check_io_errors(t, th, probes.read_kmsg())
    finally:
        if plugin is not None:
            plugin.close()
    return findings


# ---- recording ----


def record_result(
    host: Host,
    backend: Backend | None,
    job: Job | None,
    findings: list[Finding],
    *,
    update_health: bool = True,
) -> CheckResult:
    """Store a result and, unless told not to, make it the current health of its object."""
    status = worst(f.status for f in findings)
    with transaction.atomic():
        result = CheckResult.objects.create(
            host=host,
            backend=backend,
            job=job,
            status=status,
            findings=[f.as_dict() for f in findings],
        )
        if update_health:
            if backend is not None:
                _update_backend_health(backend, result)
            else:
                HostHealth.objects.get_or_create(host=host)
                HostHealth.objects.filter(host=host).update(last_result=result)
            refresh_host_health(host, result)
    return result


def _summary(result: CheckResult, prefix: str = "") -> str:
    f = result.worst_finding
    if f is None:
        return ""
    return str(prefix + f["message"])[:500]


def _update_backend_health(backend: Backend, result: CheckResult) -> None:
    BackendHealth.objects.get_or_create(backend=backend)
    health = BackendHealth.objects.select_for_update().get(backend=backend)
    before = health.status
    health.status = result.status
    health.checked_at = result.at
    health.summary = _summary(result)
    health.last_result = result
    health.save(update_fields=["status", "checked_at", "summary", "last_result"])
    if changed(before, result.status):
        raise_event(
            host=backend.host,
            backend=backend,
            from_status=before,
            to_status=result.status,
            message=health.summary,
            result=result,
        )


def refresh_host_health(host: Host, result: CheckResult) -> HostHealth:
    """A host's health is the worst of its latest host-level result and its backends'."""
    HostHealth.objects.get_or_create(host=host)
    health = (
        HostHealth.objects.select_for_update(of=("self",))
        .select_related("last_result")
        .get(host=host)
    )
    candidates: list[tuple[str, str]] = []
    if health.last_result is not None:
        candidates.append((health.last_result.status, _summary(health.last_result)))
    for bh in BackendHealth.objects.filter(backend__host=host).select_related("backend"):
        if bh.status != Status.UNKNOWN:
            candidates.append((bh.status, f"{bh.backend.name}: {bh.summary}"))
    status = worst((s for s, _ in candidates), default=Status.UNKNOWN)
    summary = next((m for s, m in candidates if s == status), "")
    before = health.status
    health.status = status
    health.summary = summary[:500]
    health.checked_at = result.at
    health.save(update_fields=["status", "summary", "checked_at"])
    if changed(before, status):
        # A change caused by a backend's result was already notified as that backend's
        # event: record the host's too (pages show it), but do not send it twice.
        raise_event(
            host=host,
            backend=None,
            from_status=before,
            to_status=status,
            message=health.summary,
            result=result if result.backend_id is None else None,
            notify=result.backend_id is None,
        )
    return health


def changed(before: str, after: str) -> bool:
    """A change worth an event: any change of status, except the first look finding all
    well (nobody needs to hear that a new backend is fine)."""
    if before == after:
        return False
    return not (before == Status.UNKNOWN and after == Status.OK)


def raise_event(
    *,
    host: Host,
    backend: Backend | None,
    from_status: str,
    to_status: str,
    message: str,
    result: CheckResult | None = None,
    kind: str = HealthEvent.Kind.STATUS,
    notify: bool = True,
) -> HealthEvent:
    """Store an event and send it to the notifiers once the transaction commits."""
    event = HealthEvent.objects.create(
        host=host,
        backend=backend,
        backend_name=backend.name if backend else "",
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        message=message,
        result=result,
        at=timezone.now(),
        delivery=HealthEvent.Delivery.PENDING if notify else HealthEvent.Delivery.NONE,
    )
    log.info("health event: %s (%s)", event, message)
    if notify:
        from .notify import queue_notification

        transaction.on_commit(lambda: queue_notification(event.pk))
    return event
