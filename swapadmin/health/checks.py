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
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backends import BackendError, Policy, SwapBackend
from swapadmin.core import runner, signing
from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.services import live_job_for

from . import probes
from .models import BackendHealth, CheckResult, HealthEvent, HostHealth, Status, worst
from .probes import Finding, Thresholds

log = logging.getLogger(__name__)


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
    """Probe one backend and record the result; returns it and the repair queued, if any."""
    holder = live_job_for(backend)
    if holder is not None:
        # A job is changing the area right now: what we would see is a moment of it.
        finding = probes.ok("busy", f"skipped: {holder.kind} job {holder.uuid} is {holder.state}")
        return record_result(host, backend, job, [finding], update_health=False), None
    result = record_result(host, backend, job, backend_findings(backend, th))
    if signing.signing_key() is None:
        # A fleet host's worker holds no signing key: the control plane queues the repair
        # from this result at its next round (tasks.repair_drifted).
        return result, None
    # Where jobs can be signed (one machine: `make run`), the repair is queued at once.
    from .repair import maybe_repair

    return result, maybe_repair(backend, result.findings)


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


def build_plugin(backend: Backend) -> tuple[SwapBackend | None, str]:
    try:
        plugin = runner.build_plugin(backend, Policy.from_env())
    except BackendError as e:
        return None, e.message
    return plugin, ""


def backend_findings(backend: Backend, th: Thresholds | None = None) -> list[Finding]:
    """Every host-side probe of one backend, read-only."""
    th = th or Thresholds.from_settings()
    plugin, error = build_plugin(backend)
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
        findings += probes.check_zram(t, th)
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
    return (prefix + f["message"])[:500]


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
