"""A backend's history reads its figure from Sample.backends, which the host's sampler (another
machine) writes: a figure no float holds (1e400, which jsonb keeps as a 401-digit int), a
string, or a row whose backends are a list naming the backend are left out of the range,
which still answers with the readings around them, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from swapadmin.core.models import Backend, Host, Sample


def test_odd_readings_are_left_out_and_the_rest_averaged(
    host_row: Host,
    make_backend: Callable[..., Backend],
    victor: User,
    as_user: Callable[..., APIClient],
) -> None:
    backend = make_backend("s0")
    key = str(backend.uuid)
    since = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    odd = (10**400, "4096", None, True, {"used_bytes": 10**400})
    for i, value in enumerate(odd):
        Sample.objects.create(host=host_row, at=since + timedelta(seconds=i), backends={key: value})
    Sample.objects.create(host=host_row, at=since + timedelta(seconds=10), backends=[key])
    for i, used in enumerate((1000, 3000)):
        Sample.objects.create(
            host=host_row, at=since + timedelta(seconds=20 + i), backends={key: used}
        )
    r = as_user(victor).get(
        f"/api/v1/backends/{backend.uuid}/history/",
        {"since": since.isoformat(), "until": (since + timedelta(minutes=1)).isoformat(),
         "step": 60},
    )  # fmt: skip
    assert r.status_code == 200, r.content
    points = r.json()["points"]
    assert [p["used_bytes"] for p in points] == [2000]
