"""Memory and swap charts drawn on the server as SVG, from the stored samples.

A chart reads its range through core.history, as the history API does: the same choice of
resolution (the coarsest no coarser than the chart's step, coarser still where the finer
rows are already deleted, plus the recent rows not rolled up yet) and the same averaging
into ``POINTS`` steps, so a chart and the API's answer for the same range agree. No
JavaScript: the chart is in the page, so it prints, scales and needs no chart library.

The chart extends as samples arrive: its section is a partial that htmx fetches again
every ``Range.poll`` (the sampler's period for the last hour, a minute for longer ranges,
whose buckets fill slowly), and swaps in whole; an SVG of at most POINTS points a series
is a few kilobytes, less than diffing it would cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from django.conf import settings
from django.utils import timezone

from swapadmin.core import history
from swapadmin.core.models import Backend, Host

from .templatetags.swapadmin_ui import iec, rate

POINTS = 240
WIDTH, HEIGHT = 900, 200
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 24


@dataclass(frozen=True)
class Range:
    key: str
    label: str
    span: timedelta

    @property
    def step(self) -> timedelta:
        """One chart point: the span over POINTS (15 s, 6 min, 42 min: whole seconds, as
        core.history takes them)."""
        return self.span / POINTS

    @property
    def poll(self) -> str:
        """How often an open chart of this range is drawn again (htmx's every-N-s): a new
        sample can move its last point every sample period, but a point of a long range
        is a bucket of minutes, and redrawing it each few seconds would show nothing new."""
        bucket = self.step.total_seconds()
        seconds = max(float(settings.SWAPADMIN_SAMPLE_SECONDS), min(60.0, bucket / 3))
        return f"{seconds:g}s"

    def window(self, now: datetime | None = None) -> history.Window:
        """The range ending ``now``, at one step per chart point."""
        now = now or timezone.now()
        return history.window(now - self.span, now, int(self.step.total_seconds()), now)


RANGES = {
    r.key: r
    for r in (
        Range("hour", "last hour", timedelta(hours=1)),
        Range("day", "last day", timedelta(days=1)),
        Range("week", "last week", timedelta(days=7)),
    )
}


@dataclass(frozen=True)
class Series:
    label: str
    css: str  # a class in static/swapadmin.css, so colours follow the theme
    points: list[tuple[datetime, float]]


def _series(found: history.History, label: str, css: str, name: str) -> Series:
    # history dates a point by its step's start; the chart draws the mean at the step's
    # middle, where the readings it averages are centred.
    half = found.window.step / 2
    return Series(label, css, [(p["at"] + half, p[name]) for p in found.points if name in p])


def host_series(
    host: Host, rng: Range, now: datetime | None = None
) -> tuple[list[Series], list[Series]]:
    """(memory and swap in bytes, swap-in/out in pages per second) for ``rng``."""
    found = history.host_history(host, rng.window(now), now)
    memory = [
        _series(found, "swap total", "s-total", "swap_total"),
        _series(found, "swap used", "s-used", "swap_used"),
        _series(found, "memory available", "s-avail", "mem_available"),
    ]
    rates = [
        _series(found, "swap-in", "s-in", "pswpin_rate"),
        _series(found, "swap-out", "s-out", "pswpout_rate"),
    ]
    return memory, rates


def backend_series(backend: Backend, rng: Range, now: datetime | None = None) -> list[Series]:
    """Bytes of ``backend`` in use over ``rng``; history leaves out figures that are no
    finite number (Sample.backends is written by the sampler, another machine)."""
    found = history.backend_history(backend, rng.window(now), now)
    return [_series(found, "used", "s-used", "used_bytes")]


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
