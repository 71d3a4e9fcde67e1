"""Raw samples become minute and hour averages; old rows go; running it again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from swapadmin.core.models import Sample
from swapadmin.core.retention import roll_up

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)


def raw(host, at, swap_free, used):
    return Sample.objects.create(
        host=host, at=at, swap_total=1000, swap_free=swap_free, pswpout_rate=swap_free / 10,
        backends={"b": used},
    )  # fmt: skip


def test_it_averages_minutes_and_hours_and_deletes_old_rows(host_row):
    start = NOW - timedelta(hours=3)  # 09:00:30
    for i in range(3 * 60 * 2):  # a reading every 30 s for 3 hours
        raw(host_row, start + timedelta(seconds=30 * i), swap_free=100 + i % 2 * 100, used=i % 2)
    result = roll_up(NOW)
    minutes = Sample.objects.filter(host=host_row, resolution="1m").order_by("at")
    assert minutes.first().at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    second = minutes[1]  # 09:01:00 (free 200, used 1) and 09:01:30 (free 100, used 0)
    assert second.at == datetime(2026, 3, 1, 9, 1, tzinfo=UTC)
    assert (second.swap_free, second.pswpout_rate, second.backends) == (150, 15.0, {"b": 0})
    assert minutes.last().at == datetime(2026, 3, 1, 11, 59, tzinfo=UTC)
    hours = Sample.objects.filter(host=host_row, resolution="1h").order_by("at")
    assert [h.at.hour for h in hours] == [9, 10, 11]
    assert [h.swap_free for h in hours][1:] == [150, 150]  # 09:00 began with one reading
    # Raw rows older than two hours are gone; the minutes stay two days.
    assert not Sample.objects.filter(resolution="raw", at__lt=NOW - timedelta(hours=2)).exists()
    assert Sample.objects.filter(resolution="raw").exists()
    assert result["minute_rows"] == minutes.count() and result["hour_rows"] == 3

    again = roll_up(NOW)
    assert (again["minute_rows"], again["hour_rows"]) == (0, 0)


def test_old_minutes_and_hours_expire(host_row):
    minute = Sample.objects.create(host=host_row, at=NOW - timedelta(days=3), resolution="1m")
    hour = Sample.objects.create(host=host_row, at=NOW - timedelta(days=401), resolution="1h")
    kept = Sample.objects.create(host=host_row, at=NOW - timedelta(days=399), resolution="1h")
    roll_up(NOW)
    assert not Sample.objects.filter(pk__in=[minute.pk, hour.pk]).exists()
    assert Sample.objects.filter(pk=kept.pk).exists()
    # The expired minute was averaged into its hour first.
    assert Sample.objects.filter(resolution="1h", at=minute.at.replace(second=0)).exists()


def test_a_roll_up_keeps_each_backends_peak_beside_its_average(host_row):
    start = NOW - timedelta(hours=3)  # 09:00:30
    for i in range(4):  # 09:00:30, 09:00:45 / 09:01:00, 09:01:15
        row = raw(host_row, start + timedelta(seconds=15 * i), swap_free=100, used=[0, 40, 4, 0][i])
        # A host's own claim of a peak on its raw row is not believed.
        Sample.objects.filter(pk=row.pk).update(backends_peak={"b": 0})
    # A minute rolled up before peaks were kept (before the readings): only its average, no
    # peak, and its hour has none either.
    Sample.objects.create(
        host=host_row, at=datetime(2026, 3, 1, 8, 30, tzinfo=UTC), resolution="1m",
        backends={"b": 7},
    )  # fmt: skip
    roll_up(NOW)
    minutes = Sample.objects.filter(host=host_row, resolution="1m").order_by("at")
    assert [(m.at.strftime("%H:%M"), m.backends, m.backends_peak) for m in minutes] == [
        ("08:30", {"b": 7}, None),
        ("09:00", {"b": 20}, {"b": 40}),
        ("09:01", {"b": 2}, {"b": 4}),
    ]
    hours = Sample.objects.filter(host=host_row, resolution="1h").order_by("at")
    assert [(h.at.hour, h.backends_peak) for h in hours] == [(8, None), (9, {"b": 40})]
