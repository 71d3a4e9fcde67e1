"""A host's or a backend's stored readings over a time range, averaged at a step.

Samples are kept at three resolutions (core.retention): raw readings for 2 hours, minute
averages for 2 days, hour averages for 400 days. A range is read at the coarsest
resolution no coarser than the step, made coarser still when the finer rows of the range
are already deleted; the newest part of the range, not rolled up yet, comes from the finer
rows after the last coarse one. Rows are then averaged into buckets of ``step`` starting at
``since``. Pages, the API and anything else that draws a range read it here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from . import retention
from .models import Backend, Host, Sample
from .readings import finite

#: At most this many points in one answer (Prometheus's own limit for a range query).
MAX_POINTS = 11_000
#: The longest step asked for: a year. Longer ones would only give one point.
MAX_STEP = timedelta(days=366)
#: Without a ``since``, the range is the last hour; without a step, about this many points.
DEFAULT_SPAN = timedelta(hours=1)
DEFAULT_POINTS = 240

#: Finest first. Raw rows are as dense as the sampler's period (seconds): granularity 0.
RESOLUTIONS: tuple[str, ...] = (
    Sample.Resolution.RAW,
    Sample.Resolution.MINUTE,
    Sample.Resolution.HOUR,
)
GRANULARITY: dict[str, timedelta] = {
    Sample.Resolution.RAW: timedelta(0),
    Sample.Resolution.MINUTE: timedelta(minutes=1),
    Sample.Resolution.HOUR: timedelta(hours=1),
}
KEPT_FOR: dict[str, timedelta] = {
    Sample.Resolution.RAW: retention.RAW_KEEP,
    Sample.Resolution.MINUTE: retention.MINUTE_KEEP,
    Sample.Resolution.HOUR: retention.HOUR_KEEP,
}

#: A host's figures, as the Sample columns hold them (bytes; pages per second; PSI percent).
HOST_FIELDS: tuple[str, ...] = retention.NUMBERS
INTEGERS = retention.INTEGERS | {"swap_used", "used_bytes"}


class BadRange(ValueError):
    """A range or step that cannot be answered; ``param`` names the query parameter."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    step: timedelta

    @property
    def points(self) -> int:
        return math.ceil((self.until - self.since) / self.step)


@dataclass(frozen=True)
class History:
    window: Window
    resolution: str
    #: One dict per step that had readings, oldest first: ``at`` (the bucket's start) and
    #: the figures averaged over the bucket. Steps without a reading are left out.
    points: list[dict[str, Any]] = field(default_factory=list)


def window(
    since: datetime | None,
    until: datetime | None,
    step_seconds: int | None,
    now: datetime | None = None,
) -> Window:
    """The range asked for, with its defaults, in UTC; BadRange names a wrong parameter."""
    now = now or timezone.now()
    until = _utc(until, "until") if until is not None else now
    if since is None:
        try:
            since = until - DEFAULT_SPAN
        except OverflowError:
            raise BadRange("until", "the time is out of range") from None
    else:
        since = _utc(since, "since")
    if since >= until:
        raise BadRange("since", "must be before until")
    span = until - since
    if step_seconds is None:
        step = timedelta(seconds=max(1, math.ceil(span.total_seconds() / DEFAULT_POINTS)))
    else:
        if step_seconds < 1:
            raise BadRange("step", "must be a whole number of seconds, at least 1")
        if step_seconds > MAX_STEP.total_seconds():
            raise BadRange("step", f"must be at most {int(MAX_STEP.total_seconds())} seconds")
        step = timedelta(seconds=step_seconds)
    found = Window(since, until, step)
    if found.points > MAX_POINTS:
        least = math.ceil(span.total_seconds() / MAX_POINTS)
        raise BadRange(
            "step",
            f"{found.points} points over this range, at most {MAX_POINTS}: "
            f"use a step of at least {least} seconds",
        )
    return found


def _utc(at: datetime, param: str) -> datetime:
    if timezone.is_naive(at):
        at = at.replace(tzinfo=UTC)
    try:
        # PostgreSQL refuses offsets past +-15:59, which Python accepts: ask it in UTC.
        return at.astimezone(UTC)
    except OverflowError:
        raise BadRange(param, "the time is out of range") from None


def resolution_for(win: Window, now: datetime | None = None) -> str:
    """The coarsest resolution no coarser than the step, or a coarser one when the finer
    rows from ``since`` on are past their keep time (deleted by the retention task)."""
    now = now or timezone.now()
    index = max(i for i, r in enumerate(RESOLUTIONS) if GRANULARITY[r] <= win.step)
    while index < len(RESOLUTIONS) - 1 and win.since < now - KEPT_FOR[RESOLUTIONS[index]]:
        index += 1
    return RESOLUTIONS[index]


def rows(
    host: Host | int, resolution: str, win: Window, columns: Sequence[str], **where: Any
) -> list[tuple[Any, ...]]:
    """``(at, *columns)`` of the host's samples in ``win`` at ``resolution``, then of the
    finer rows after the last coarse one (the recent part not rolled up yet), by time."""
    host_id = host if isinstance(host, int) else host.pk
    base = Sample.objects.filter(host_id=host_id, at__gte=win.since, at__lt=win.until, **where)
    base = base.order_by("at")
    found = list(base.filter(resolution=resolution).values_list("at", *columns))
    # A minute row at 12:00 averages 12:00 to 12:01: finer rows start where it ends.
    covered = found[-1][0] + GRANULARITY[resolution] if found else win.since
    finer = RESOLUTIONS[: RESOLUTIONS.index(resolution)]
    for level in reversed(finer):
        newer = list(base.filter(resolution=level, at__gte=covered).values_list("at", *columns))
        found += newer
        if newer:
            covered = newer[-1][0] + GRANULARITY[level]
    return found


def bucketed(
    readings: Iterable[tuple[datetime, dict[str, float]]], win: Window
) -> list[dict[str, Any]]:
    """The mean of each figure per step from ``since``; a step with no reading is left out.
    Each row counts once: where a step holds both a roll-up and finer rows (the newest
    part of a range), a minute average weighs as much as one reading."""
    sums: dict[int, tuple[dict[str, float], int]] = {}
    for at, values in readings:
        i = int((at - win.since) / win.step)
        total, count = sums.get(i, ({}, 0))
        for name, value in values.items():
            total[name] = total.get(name, 0.0) + value
        sums[i] = (total, count + 1)
    points = []
    for i, (total, count) in sorted(sums.items()):
        point: dict[str, Any] = {"at": win.since + win.step * i}
        for name, value in total.items():
            mean = value / count
            point[name] = round(mean) if name in INTEGERS else mean
        points.append(point)
    return points


def host_history(host: Host, win: Window, now: datetime | None = None) -> History:
    """Memory, swap, swap-in/out rates and PSI of ``host`` over ``win``."""
    resolution = resolution_for(win, now)
    found = rows(host, resolution, win, HOST_FIELDS)

    def figures(row: tuple[Any, ...]) -> dict[str, float]:
        values = dict(zip(HOST_FIELDS, row[1:], strict=True))
        values["swap_used"] = values["swap_total"] - values["swap_free"]
        return values

    return History(win, resolution, bucketed(((r[0], figures(r)) for r in found), win))


def backend_history(backend: Backend, win: Window, now: datetime | None = None) -> History:
    """Bytes of ``backend`` in use over ``win``. Samples record a backend only while its area
    is active, so a step in which it never was has no point."""
    resolution = resolution_for(win, now)
    key = str(backend.uuid)
    found = rows(backend.host_id, resolution, win, ("backends",), backends__has_key=key)
    return History(win, resolution, bucketed(_used(found, key), win))


def _used(found: list[tuple[Any, ...]], key: str) -> Iterable[tuple[datetime, dict[str, float]]]:
    for at, backends in found:
        # has_key also matches a list holding the key as a string: only a dict has figures.
        value = backends.get(key) if isinstance(backends, dict) else None
        if isinstance(value, dict):  # an older shape kept the figure under a key
            value = value.get("used_bytes")
        used = finite(value)
        if used is not None:
            yield at, {"used_bytes": used}
