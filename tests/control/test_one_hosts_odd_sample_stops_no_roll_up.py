"""A sample whose per-backend figures are not whole numbers of bytes (a string, an object,
a float, a list for the whole field) is averaged without them: before, one such row raised
in the roll-up, which then stopped for every host, and its deletes never ran."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from swapadmin.core import retention
from swapadmin.core.models import Host, Sample

pytestmark = pytest.mark.django_db


def raw(host: Host, at, backends) -> Sample:
    return Sample.objects.create(
        host=host, at=at, resolution="raw", backends=backends, mem_total=1 << 30,
        mem_available=1 << 29, swap_total=1 << 28, swap_free=1 << 27, swap_cached=0,
        pswpin_rate=0.0, pswpout_rate=0.0, psi_some_avg10=0.0, psi_full_avg10=0.0,
    )  # fmt: skip


def test_the_odd_figures_are_left_out_and_the_good_ones_averaged(host_row: Host) -> None:
    start = (timezone.now() - timedelta(minutes=10)).replace(second=0, microsecond=0)
    raw(host_row, start, {"a": 100, "b": "lots"})
    raw(host_row, start + timedelta(seconds=10), {"a": 300, "b": {"used_bytes": 5}})
    raw(host_row, start + timedelta(seconds=20), ["not", "an", "object"])
    raw(host_row, start + timedelta(seconds=30), {"a": 2.5, "b": True})

    retention.roll_up()

    minute = Sample.objects.get(host=host_row, resolution="1m", at=start)
    assert minute.backends == {"a": 200}
