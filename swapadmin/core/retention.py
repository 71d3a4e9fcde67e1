"""Sample retention: raw readings become minute averages, minutes become hours, and old rows go.

Raw samples are kept 2 hours, minute averages 2 days, hour averages 400 days, so a year of
samples from 500 hosts stays bounded (about 5,000 rows per host). Only complete buckets
after the host's last rolled-up one are averaged, so running this again changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .models import Host, Sample

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
        for key, used in (s.backends or {}).items():
            per_backend[key].append(int(used))
    backends = {k: round(sum(v) / len(v)) for k, v in per_backend.items()}
    return Sample(host=host, at=at, resolution=resolution, backends=backends, **values)


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
