"""Retention: every table that grows with time is bounded here (the ``retention`` task).

Samples: raw readings become minute averages, minutes become hours, and old rows go. Raw
samples are kept 2 hours, minute averages 2 days, hour averages 400 days, so a year of
samples stays bounded (about 14,000 rows per host: 1,440 raw, 2,880 minutes, 9,600 hours).
Only complete buckets after the host's last rolled-up one are averaged, so running this again
changes nothing.

Jobs and audit events: finished jobs older than SWAPADMIN_JOB_RETENTION_DAYS (90) and audit
events older than SWAPADMIN_AUDIT_RETENTION_DAYS (400) go; 0 keeps them for ever. A queued
or running job is never deleted, whatever its age, and the latest finished job of each
kind of each backend (and of each host-wide kind) is kept: it is what the backend's page
shows of its last scan, benchmark or burn-in, and what a repair's back-off looks at. Rows
pointing at a job (a check result, a backend's last repair) have it set to null by the
delete (``on_delete=SET_NULL``). Deletes go in batches, each its own short transaction, so
a first run over years of rows never holds a table for minutes. Each batch locks its rows
first, passing over any another change holds (a host being forgotten): those go at the
next run.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Set
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Max, Q
from django.utils import timezone

from .models import AuditEvent, Host, Job, Sample

log = logging.getLogger(__name__)

#: Rows deleted per transaction.
BATCH = 1000
#: Seconds one table's deletes may take in one run: the four tables stay under the task's
#: 5 minutes, so runs never overlap; a backlog (the first run after an upgrade) is worked
#: off run by run.
TABLE_SECONDS = 60.0

RAW_KEEP = timedelta(hours=2)
MINUTE_KEEP = timedelta(days=2)
HOUR_KEEP = timedelta(days=400)

NUMBERS = (
    "mem_total",
    "mem_available",
    "swap_total",
    "swap_free",
    "swap_cached",
    "pswpin_rate",
    "pswpout_rate",
    "psi_some_avg10",
    "psi_full_avg10",
)
INTEGERS = {"mem_total", "mem_available", "swap_total", "swap_free", "swap_cached"}


def _floor(at: datetime, step: timedelta) -> datetime:
    seconds = int(step.total_seconds())
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=at.tzinfo)


def _roll(host: Host, source: str, target: str, step: timedelta, now: datetime) -> int:
    """Average ``source`` samples into ``target`` buckets of ``step``; returns rows made."""
    last = Sample.objects.filter(host=host, resolution=target).aggregate(m=Max("at"))["m"]
    end = _floor(now, step)  # only complete buckets
    rows = Sample.objects.filter(host=host, resolution=source, at__lt=end)
    if last is not None:
        rows = rows.filter(at__gte=last + step)
    buckets: dict[datetime, list[Sample]] = defaultdict(list)
    for s in rows.order_by("at").iterator():
        buckets[_floor(s.at, step)].append(s)
    made = [_average(host, target, at, group) for at, group in sorted(buckets.items())]
    Sample.objects.bulk_create(made)
    return len(made)


def _average(host: Host, resolution: str, at: datetime, group: list[Sample]) -> Sample:
    n = len(group)
    values: dict[str, Any] = {}
    for name in NUMBERS:
        mean = sum(getattr(s, name) for s in group) / n
        values[name] = round(mean) if name in INTEGERS else mean
    per_backend: dict[str, list[int]] = defaultdict(list)
    for s in group:
        for key, used in _bytes_by_key(s.backends).items():
            per_backend[key].append(used)
    backends = {k: round(sum(v) / len(v)) for k, v in per_backend.items()}
    return Sample(
        host=host, at=at, resolution=resolution, backends=backends, backends_peak=_peaks(group),
        **values,
    )  # fmt: skip


def _peaks(group: list[Sample]) -> dict[str, int] | None:
    """The most each backend held in ``group``: a minute's, from its readings' own figures
    (a ``backends_peak`` a host wrote on its raw row is not believed); an hour's, from its
    minutes' peaks. None if a minute was rolled up before peaks were kept: its average is
    no peak, and the hour must say it has none rather than pass the average off as one."""
    peaks: dict[str, int] = {}
    for s in group:
        if s.resolution == Sample.Resolution.RAW:
            values = s.backends
        elif s.backends_peak is None:
            return None
        else:
            values = s.backends_peak
        for key, used in _bytes_by_key(values).items():
            peaks[key] = max(peaks.get(key, 0), used)
    return peaks


def _bytes_by_key(values: Any) -> dict[str, int]:
    """A worker (another machine) wrote these: a value that is no whole number of bytes is
    left out, or one host's odd row would stop the roll-up, and its deletes, for all."""
    if not isinstance(values, dict):
        return {}
    return {
        key: used
        for key, used in values.items()
        if isinstance(used, int) and not isinstance(used, bool) and 0 <= used < 1 << 63
    }


def roll_up(now: datetime | None = None) -> dict[str, int]:
    """Roll every host's samples up and delete what is past its keep time."""
    now = now or timezone.now()
    made = {"1m": 0, "1h": 0}
    for host in Host.objects.all():
        with transaction.atomic():
            made["1m"] += _roll(
                host, Sample.Resolution.RAW, Sample.Resolution.MINUTE, timedelta(minutes=1), now
            )
            made["1h"] += _roll(
                host, Sample.Resolution.MINUTE, Sample.Resolution.HOUR, timedelta(hours=1), now
            )
    deleted = 0
    for resolution, keep in (
        (Sample.Resolution.RAW, RAW_KEEP),
        (Sample.Resolution.MINUTE, MINUTE_KEEP),
        (Sample.Resolution.HOUR, HOUR_KEEP),
    ):
        deleted += Sample.objects.filter(resolution=resolution, at__lt=now - keep).delete()[0]
    return {"minute_rows": made["1m"], "hour_rows": made["1h"], "deleted": deleted}


def delete_in_batches(
    rows: models.QuerySet[Any], batch: int | None = None, keep: Set[int] = frozenset()
) -> int:
    """Delete ``rows`` (but not the primary keys in ``keep``) ``batch`` at a time, each
    batch its own transaction, walking the table once in key order; returns how many of
    ``rows``' model went (rows of other models that cascade are not counted). Stops after
    TABLE_SECONDS; what is left goes next run.

    Each page of keys is found outside the transaction: the search may walk much of the
    table (the young rows, on every run), and under SQLite (`make run`, IMMEDIATE
    transactions) a transaction holds the one write lock from its start, which the
    worker's job updates would wait for. The delete then applies ``rows``' conditions
    again, so a row that stopped matching in between (no longer finished, named by an
    event) stays. ``rows`` must allow FOR UPDATE: no DISTINCT or aggregation."""
    batch = batch or BATCH
    label = rows.model._meta.label
    deleted, after = 0, None
    deadline = time.monotonic() + TABLE_SECONDS
    while time.monotonic() < deadline:
        page = rows if after is None else rows.filter(pk__gt=after)
        pks = list(page.order_by("pk").values_list("pk", flat=True)[:batch])
        if not pks:
            return deleted
        after = pks[-1]
        doomed = [pk for pk in pks if pk not in keep]
        if doomed:
            with transaction.atomic():
                # The doomed rows locked first, passing over any another change holds: the
                # delete's SET NULL of the rows pointing at them (a job's check results)
                # comes before it, so a forget holding a job, then deleting its results,
                # and this batch would each wait for the other (PostgreSQL fails one: 40P01,
                # the whole run failed). A row passed over goes next run. SQLite: one
                # writer at a time, nothing to lock.
                mine = list(
                    rows.filter(pk__in=doomed)
                    .select_for_update(skip_locked=True, of=("self",))
                    .values_list("pk", flat=True)
                )
                if mine:
                    # Only the keys loaded: the collector needs no log or result to delete a row.
                    _, per_model = rows.filter(pk__in=mine).only("pk").delete()
                    deleted += per_model.get(label, 0)
        if len(pks) < batch:
            return deleted
    log.info("retention: %d %s row(s) deleted, the rest next run", deleted, label)
    return deleted


def older_than(days: float, now: datetime) -> datetime | None:
    """The cut-off of a retention of ``days``; None for 0 (kept for ever), and for a
    retention longer than the calendar reaches (1e7 days, inf: an admin's "for ever"),
    which ``timedelta`` cannot hold: nothing is that old, and the run must not fail on
    it, or the tables after this one would never be pruned."""
    if not days > 0:  # 0, and NaN, which compares false both ways
        return None
    try:
        return now - timedelta(days=days)
    except OverflowError:
        return None


def prune_jobs(now: datetime | None = None, batch: int | None = None) -> int:
    """Delete finished jobs older than SWAPADMIN_JOB_RETENTION_DAYS, by when they finished
    (when they were queued, for one that never recorded it), except the latest finished
    job of each (host, backend, kind), the last queued (ids grow as jobs are queued), and
    the latest of each that succeeded: the dynamic swap policy asks whether a file was ever
    on, and a file on for months whose swapon then failed once was destroyed as one never
    on once its old activate was pruned (review 198/1); returns how many."""
    cutoff = older_than(settings.SWAPADMIN_JOB_RETENTION_DAYS, now or timezone.now())
    if cutoff is None:
        return 0
    finished = Job.objects.filter(state__in=Job.FINISHED)
    # Read once (one row per host, backend and kind: bounded by the fleet, not by time), so
    # each batch does not group the whole table again. A job that finishes meanwhile only
    # makes an older one deletable, at the next run.
    latest = {
        pk
        for jobs in (finished, finished.filter(state=Job.State.SUCCEEDED))
        for pk in jobs.order_by()
        .values("host_id", "backend_id", "kind")
        .annotate(latest=Max("pk"))
        .values_list("latest", flat=True)
    }
    old = finished.filter(
        Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, queued_at__lt=cutoff)
    )
    return delete_in_batches(old, batch, keep=latest)


def prune_audit(now: datetime | None = None, batch: int | None = None) -> int:
    """Delete audit events older than SWAPADMIN_AUDIT_RETENTION_DAYS; returns how many."""
    cutoff = older_than(settings.SWAPADMIN_AUDIT_RETENTION_DAYS, now or timezone.now())
    if cutoff is None:
        return 0
    return delete_in_batches(AuditEvent.objects.filter(at__lt=cutoff), batch)
