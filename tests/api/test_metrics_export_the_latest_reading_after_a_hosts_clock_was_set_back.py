"""A sample's ``at`` is the host's clock. When NTP sets a host's clock back, the samples it
took before carry times later than every new one, and stay so until the clock catches up
(retention never deletes them meanwhile: they are not old). /metrics exports the reading the
sampler wrote last, not the sample with the latest ``at``: the memory figures move with the
host, as its counters and PSI (read from the same snapshot) do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from swapadmin.core.models import Host, Sample
from swapadmin.core.sampler import Reading, take_sample


def test_memory_figures_are_the_latest_readings_not_the_latest_stamped(
    host_row: Host, victor: User, as_user: Callable[..., APIClient]
) -> None:
    # Taken while the host's clock ran an hour ahead: 1 byte of everything.
    Sample.objects.create(
        host=host_row, at=timezone.now() + timedelta(hours=1), mem_total=1, mem_available=1,
        swap_total=1, swap_free=1, swap_cached=1,
    )  # fmt: skip
    latest = take_sample(host_row, Reading())  # after NTP set the clock right
    assert latest.mem_total > 1 and latest.mem_available > 1

    r = as_user(victor).get("/metrics")
    assert r.status_code == 200
    exported = {
        s.name: s.value
        for family in text_string_to_metric_families(r.content.decode())
        for s in family.samples
        if s.labels.get("host") == host_row.name
    }
    assert exported["swapadmin_host_memory_total_bytes"] == latest.mem_total
    assert exported["swapadmin_host_memory_available_bytes"] == latest.mem_available
    assert exported["swapadmin_host_swap_free_bytes"] == latest.swap_free
