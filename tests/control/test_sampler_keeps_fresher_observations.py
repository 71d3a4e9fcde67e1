"""A sample never overwrites what a job observed after the sample's reading, and the
batched update gives each backend its own values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from swapadmin.core.models import Backend
from swapadmin.core.sampler import _write_observations

pytestmark = [pytest.mark.django_db]


def backend(host_row, name: str, observed_at) -> Backend:
    return Backend.objects.create(
        host=host_row, kind="file", name=name, params={"path": f"/srv/swap/{name}"},
        size_bytes=16 << 20, observed_state=Backend.Observed.ACTIVE, observed_at=observed_at,
        used_bytes=4096, active_priority=3,
    )  # fmt: skip


def test_a_job_observation_newer_than_the_reading_is_kept(host_row):
    reading_at = timezone.now()
    stale = backend(host_row, "stale", reading_at - timedelta(seconds=5))
    fresh = backend(host_row, "fresh", reading_at + timedelta(seconds=1))  # a job wrote it
    gone = {"observed_at": reading_at, "observed_state": "ready", "used_bytes": 0}

    _write_observations({stale.pk: dict(gone), fresh.pk: dict(gone)}, reading_at)

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.observed_state, stale.used_bytes) == ("ready", 0)
    assert (fresh.observed_state, fresh.used_bytes) == ("active", 4096)


def test_each_backend_gets_its_own_values_from_one_update(host_row):
    reading_at = timezone.now()
    a = backend(host_row, "a", None)
    b = backend(host_row, "b", None)
    observations = {
        a.pk: {"observed_at": reading_at, "used_bytes": 111 * 4096, "active_priority": 5},
        b.pk: {"observed_at": reading_at, "used_bytes": 222 * 4096, "active_priority": 7},
    }

    _write_observations(observations, reading_at)

    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.used_bytes, a.active_priority) == (111 * 4096, 5)
    assert (b.used_bytes, b.active_priority) == (222 * 4096, 7)
