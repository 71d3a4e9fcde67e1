"""The charts read their range through core.history and draw what they read."""

from datetime import timedelta

from django.utils import timezone

from swapadmin.core import history
from swapadmin.core.models import Host, Sample
from swapadmin.web import charts

from .conftest import make_samples


def test_a_range_reads_its_resolution_and_finer_rows_after_it(host_row: Host) -> None:
    now = timezone.now()
    make_samples(host_row, 3, timedelta(hours=1), Sample.Resolution.HOUR)  # now, -1h, -2h
    Sample.objects.filter(host=host_row).update(at=now - timedelta(hours=2))
    Sample.objects.create(host=host_row, at=now - timedelta(minutes=30), resolution="1m")
    Sample.objects.create(host=host_row, at=now - timedelta(hours=3), resolution="1m")
    Sample.objects.create(host=host_row, at=now - timedelta(seconds=5), resolution="raw")
    win = charts.RANGES["week"].window(now)
    resolution = history.resolution_for(win, now)
    rows = history.rows(host_row, resolution, win, ("resolution",))
    # Three hour rows, the minute row after them (not the older one), the raw row after that.
    assert [r[1] for r in rows] == ["1h", "1h", "1h", "1m", "raw"]


def test_bucketing_averages_and_bounds_the_points(host_row: Host) -> None:
    make_samples(host_row, 720, timedelta(seconds=5), Sample.Resolution.RAW)
    memory, rates = charts.host_series(host_row, charts.RANGES["hour"])
    used = memory[1].points
    assert 0 < len(used) <= charts.POINTS
    assert all(a[0] < b[0] for a, b in zip(used, used[1:], strict=False))
    # swap used in sample i is i MiB; the newest bucket averages the newest samples.
    assert used[-1][1] < 5 << 20


def test_the_svg_is_labelled_and_drawn(host_row: Host) -> None:
    make_samples(host_row, 50, timedelta(seconds=5), Sample.Resolution.RAW)
    end = timezone.now()
    memory, _ = charts.host_series(host_row, charts.RANGES["hour"])
    svg = charts.svg(memory, end - timedelta(hours=1), end, title="Memory", unit="bytes")
    assert svg.startswith('<svg class="chart"') and 'role="img"' in svg
    assert "latest swap total 2.0 GiB" in svg
    assert svg.count("<polyline") == 3


def test_an_empty_range_says_so(host_row: Host) -> None:
    end = timezone.now()
    svg = charts.svg(
        [charts.Series("x", "s-used", [])],
        end - timedelta(hours=1),
        end,
        title="Memory",
        unit="bytes",
    )
    assert "no samples in this range" in svg and "<polyline" not in svg


def test_the_byte_axis_tops_at_a_round_iec_value() -> None:
    assert charts._nice_max(2.1 * (1 << 30), 1024) == 5 * (1 << 30)
    assert charts._nice_max(1.9 * (1 << 30), 1024) == 2 * (1 << 30)
    assert charts._nice_max(300 * (1 << 20), 1024) == 500 * (1 << 20)
    assert charts._nice_max(3.2, 10) == 5


def test_a_chart_draws_the_averages_the_history_api_serves(host_row: Host) -> None:
    make_samples(host_row, 50, timedelta(seconds=5), Sample.Resolution.RAW)
    now = timezone.now()
    memory, rates = charts.host_series(host_row, charts.RANGES["hour"], now)
    served = history.host_history(host_row, history.window(now - timedelta(hours=1), now, 15))
    # Same steps, same means: the chart only moves each point to its step's middle.
    half = timedelta(seconds=15) / 2
    assert memory[1].points == [(p["at"] + half, p["swap_used"]) for p in served.points]
    assert rates[0].points == [(p["at"] + half, p["pswpin_rate"]) for p in served.points]
    assert len(served.points) > 1
