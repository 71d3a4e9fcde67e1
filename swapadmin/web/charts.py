"""Memory and swap charts drawn on the server as SVG, from the stored samples.

Raw samples are rolled up into minute and hour rows and then deleted, so a range reads the
coarse rows it is drawn at, plus any finer rows newer than the last roll-up (the recent
minutes not rolled up yet), and averages them into at most ``POINTS`` buckets. No
JavaScript: the chart is in the page, so it prints, scales and needs no chart library.

The chart extends as samples arrive: its section is a partial that htmx fetches again
every ``Range.poll`` (the sampler's period for the last hour, a minute for longer ranges,
whose buckets fill slowly), and swaps in whole; an SVG of at most POINTS points a series
is a few kilobytes, less than diffing it would cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from django.conf import settings
from django.utils import timezone

from swapadmin.core.models import Host, Sample
from swapadmin.core.readings import finite

from .templatetags.swapadmin_ui import iec, rate

POINTS = 240
WIDTH, HEIGHT = 900, 200
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 24


@dataclass(frozen=True)
class Range:
    key: str
    label: str
    span: timedelta
    resolution: str

    @property
    def poll(self) -> str:
        """How often an open chart of this range is drawn again (htmx's every-N-s): a new
        sample can move its last point every sample period, but a point of a long range
        is a bucket of minutes, and redrawing it each few seconds would show nothing new."""
        bucket = self.span.total_seconds() / POINTS
        seconds = max(float(settings.SWAPADMIN_SAMPLE_SECONDS), min(60.0, bucket / 3))
        return f"{seconds:g}s"


RANGES = {
    r.key: r
    for r in (
        Range("hour", "last hour", timedelta(hours=1), Sample.Resolution.RAW),
        Range("day", "last day", timedelta(days=1), Sample.Resolution.MINUTE),
        Range("week", "last week", timedelta(days=7), Sample.Resolution.HOUR),
    )
}
_FINER = {
    Sample.Resolution.RAW: (),
    Sample.Resolution.MINUTE: (Sample.Resolution.RAW,),
    Sample.Resolution.HOUR: (Sample.Resolution.MINUTE, Sample.Resolution.RAW),
}


@dataclass(frozen=True)
class Series:
    label: str
    css: str  # a class in static/swapadmin.css, so colours follow the theme
    points: list[tuple[datetime, float]]


def samples_for(host: Host, rng: Range, now: datetime | None = None) -> list[Sample]:
    """The samples that draw ``rng``: its own resolution, then finer rows newer than those."""
    now = now or timezone.now()
    start = now - rng.span
    base = Sample.objects.filter(host=host, at__gte=start, at__lte=now).order_by("at")
    rows = list(base.filter(resolution=rng.resolution))
    covered = rows[-1].at if rows else start
    for finer in _FINER[rng.resolution]:
        newer = list(base.filter(resolution=finer, at__gt=covered))
        rows += newer
        if newer:
            covered = newer[-1].at
    rows.sort(key=lambda s: s.at)
    return rows


def bucketed(
    samples: Sequence[Sample], value: Callable[[Sample], float], start: datetime, end: datetime
) -> list[tuple[datetime, float]]:
    """Average ``value`` over at most POINTS equal time buckets; empty buckets are gaps."""
    if not samples:
        return []
    width = (end - start) / POINTS
    sums: dict[int, tuple[float, int]] = {}
    for s in samples:
        i = min(POINTS - 1, max(0, int((s.at - start) / width)))
        total, count = sums.get(i, (0.0, 0))
        sums[i] = (total + value(s), count + 1)
    return [(start + width * (i + 0.5), t / c) for i, (t, c) in sorted(sums.items())]


def host_series(host: Host, rng: Range) -> tuple[list[Series], list[Series]]:
    """(memory and swap in bytes, swap-in/out in pages per second) for ``rng``."""
    end = timezone.now()
    start = end - rng.span
    rows = samples_for(host, rng, end)

    def pts(f: Callable[[Sample], float]) -> list[tuple[datetime, float]]:
        return bucketed(rows, f, start, end)

    memory = [
        Series("swap total", "s-total", pts(lambda s: s.swap_total)),
        Series("swap used", "s-used", pts(lambda s: s.swap_used)),
        Series("memory available", "s-avail", pts(lambda s: s.mem_available)),
    ]
    rates = [
        Series("swap-in", "s-in", pts(lambda s: s.pswpin_rate)),
        Series("swap-out", "s-out", pts(lambda s: s.pswpout_rate)),
    ]
    return memory, rates


def backend_series(host: Host, backend_uuid: str, rng: Range) -> list[Series]:
    end = timezone.now()
    start = end - rng.span

    # Sample.backends is written by the host's sampler, another machine: a row whose figure
    # is no finite number (a string, 1e400) is left out, not a 500 for the backend's page.
    def used(s: Sample) -> float | None:
        value = s.backends.get(backend_uuid) if isinstance(s.backends, dict) else None
        if isinstance(value, dict):  # an older shape kept the figure under a key
            value = value.get("used_bytes")
        return finite(value)

    rows = [s for s in samples_for(host, rng, end) if used(s) is not None]
    return [Series("used", "s-used", bucketed(rows, lambda s: used(s) or 0.0, start, end))]


def _nice_max(value: float, base: int = 10) -> float:
    """A round axis top at or above ``value``: 1, 2 or 5 times a power of ten, in units of
    a power of ``base`` (1024 for bytes, so the axis reads 2 GiB rather than 2.1 GiB)."""
    if value <= 0:
        return 1.0
    unit = 1.0
    while base > 10 and unit * base <= value:
        unit *= base
    step = 1.0
    while step * 10 <= value / unit:
        step *= 10
    for mult in (1, 2, 5, 10):
        if step * mult * unit >= value:
            return step * mult * unit
    return step * 10 * unit


def svg(
    series: Sequence[Series],
    start: datetime,
    end: datetime,
    *,
    title: str,
    unit: str,
) -> str:
    """An accessible line chart: role=img with a summary, a <title>, axis labels."""
    fmt = iec if unit == "bytes" else rate
    top = max((v for s in series for _, v in s.points), default=0.0)
    ymax = _nice_max(top, 1024 if unit == "bytes" else 10)
    empty = not any(s.points for s in series)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = (end - start).total_seconds() or 1.0

    def xy(at: datetime, v: float) -> tuple[float, float]:
        x = LEFT + plot_w * (at - start).total_seconds() / span
        y = TOP + plot_h * (1 - v / ymax)
        return round(x, 1), round(y, 1)

    latest = "; ".join(f"{s.label} {fmt(s.points[-1][1])}" for s in series if s.points)
    summary = f"{title}: " + (latest and f"latest {latest}" or "no samples in this range")
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(summary)}" preserveAspectRatio="xMidYMid meet">',
        f"<title>{escape(summary)}</title>",
    ]
    for frac in (0, 0.5, 1):
        y = TOP + plot_h * (1 - frac)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        if not empty:
            parts.append(
                f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{escape(fmt(ymax * frac))}</text>"
            )
    local_start, local_end = timezone.localtime(start), timezone.localtime(end)
    label_fmt = "%H:%M" if span <= 86400 else "%a %d %b"
    parts.append(
        f'<text class="axis" x="{LEFT}" y="{HEIGHT - 6}">{local_start.strftime(label_fmt)}</text>'
        f'<text class="axis" x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" text-anchor="end">'
        f"{local_end.strftime(label_fmt)} UTC</text>"
    )
    gap = span / POINTS * 3
    for s in series:
        segments: list[list[tuple[float, float]]] = []
        prev: datetime | None = None
        for at, v in s.points:
            if prev is None or (at - prev).total_seconds() > gap:
                segments.append([])
            segments[-1].append(xy(at, v))
            prev = at
        for seg in segments:
            if len(seg) == 1:
                x, y = seg[0]
                parts.append(f'<circle class="{s.css}" cx="{x}" cy="{y}" r="2"/>')
            else:
                d = " ".join(f"{x},{y}" for x, y in seg)
                parts.append(f'<polyline class="line {s.css}" points="{d}"/>')
    if empty:
        parts.append(
            f'<text class="axis" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
            "no samples in this range yet</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
