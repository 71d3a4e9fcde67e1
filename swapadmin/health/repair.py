"""Drift repair: a backend with ``auto_repair`` that a check finds out of its desired state
gets the job that restores it (activate, deactivate, persist), queued as the schedule.

Back-off: each repair queued without the drift going away doubles the wait before the
next one (``SWAPADMIN_HEALTH_REPAIR_BASE_SECONDS``, up to ``..._REPAIR_MAX_SECONDS``), and
none is queued while the previous one is still live, so an area that cannot be activated
(a broken disk, a full swap table) is retried a few times an hour, not every minute. The
first check that finds no drift resets the count.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from swapadmin.core.actions import BY_NAME
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import (
    Actor,
    Conflict,
    InvalidRequest,
    NotReady,
    backend_kind_refusal,
    request_action,
)

from .models import BackendHealth
from .probes import setting

log = logging.getLogger(__name__)

#: When several drifts are found, the area's state comes first; persist follows next time.
ORDER = ("activate", "deactivate", "persist")


def repair_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th repair (1, 2, ...) before another may be queued."""
    base = setting("SWAPADMIN_HEALTH_REPAIR_BASE_SECONDS", 60.0)
    cap = setting("SWAPADMIN_HEALTH_REPAIR_MAX_SECONDS", 3600.0)
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


#: (backend uuid, repair, reason) -> when it was last said; the repair task's process only.
_REFUSALS_SAID: dict[tuple[str, str, str], datetime] = {}
REFUSAL_REPEAT = timedelta(hours=1)


def _warn_refused(backend: Backend, kind: str, reason: str, now: datetime) -> None:
    key = (str(backend.uuid), kind, reason)
    said = _REFUSALS_SAID.get(key)
    if said is not None and now - said < REFUSAL_REPEAT:
        return
    if len(_REFUSALS_SAID) > 10_000:
        _REFUSALS_SAID.clear()  # a bound, not a cache policy: at worst said once more
    _REFUSALS_SAID[key] = now
    log.warning("cannot repair %s with %s: %s", backend, kind, reason)


def _drift_unknown(findings: list[dict[str, Any]]) -> bool:
    """Whether ``findings`` hold a drift whose observed state could not be told."""
    return any(
        f.get("check") == "drift"
        and isinstance(f.get("value"), dict)
        and f["value"].get("observed") == "unknown"
        for f in findings
    )


def wanted_repairs(findings: list[dict[str, Any]]) -> list[str]:
    found = {
        f["value"]["repair"]
        for f in findings
        if f["status"] != "ok" and isinstance(f.get("value"), dict) and f["value"].get("repair")
    }
    return [kind for kind in ORDER if kind in found]


def maybe_repair(backend: Backend, findings: list[dict[str, Any]]) -> Job | None:
    """Queue the repair ``findings`` call for, if the backend wants it and the back-off
    allows; returns the job queued, or None."""
    wanted = wanted_repairs(findings)
    with transaction.atomic():
        BackendHealth.objects.get_or_create(backend=backend)
        health = (
            BackendHealth.objects.select_for_update(of=("self",))
            .select_related("last_repair_job")
            .get(backend=backend)
        )
        if backend.observed_state == Backend.Observed.INDETERMINATE:
            # Nothing is repaired, nor the back-off reset, while whether its area is active
            # cannot be told: the services would refuse the job (and audit each refusal).
            return None
        if not wanted:
            # A drift that cannot be told (the path could not be named) asks for no repair
            # but is not healed either: the back-off earned by failed repairs is kept, so
            # that a state that flickers between unknown and drifted does not repair at
            # full speed.
            if not _drift_unknown(findings) and (health.repair_attempts or health.next_repair_at):
                health.repair_attempts = 0
                health.next_repair_at = None
                health.save(update_fields=["repair_attempts", "next_repair_at"])
            return None
        backend.refresh_from_db(fields=["auto_repair", "persist", "desired_state"])
        if not backend.auto_repair:
            return None
        now = timezone.now()
        if health.next_repair_at is not None and now < health.next_repair_at:
            return None
        previous = health.last_repair_job
        if previous is not None and previous.state in Job.LIVE:
            return None
        kind = wanted[0]
        params = {"persist": backend.persist} if kind == "persist" else {}
        cannot = backend_kind_refusal(backend, BY_NAME[kind])
        if cannot is not None:
            # The probes ask no repair the kind cannot do (persisting a loop area), but a
            # check stored by an older worker may. Said here, not asked: the request would
            # audit its refusal at every check. The back-off is left alone, as below.
            _warn_refused(backend, kind, cannot, now)
            return None
        try:
            job = request_action(backend, kind, Actor.schedule(), params)
        except Conflict:
            return None  # someone else's job holds the backend; look again next check
        except NotReady:
            # Its store was never proven ours, or whether its area is active cannot be told:
            # nothing to repair until then.
            return None
        except InvalidRequest as e:
            # Refused before any job, for a reason other than the kind's (said above). The
            # back-off is left alone (it would hold up a later repair that can run); the
            # warning is said once an hour per backend and reason.
            _warn_refused(backend, kind, str(e), now)
            return None
        health.repair_attempts += 1
        health.next_repair_at = now + repair_delay(health.repair_attempts)
        health.last_repair_job = job
        health.save(update_fields=["repair_attempts", "next_repair_at", "last_repair_job"])
        log.info("drift on %s: queued %s (attempt %d)", backend, kind, health.repair_attempts)
        return job
