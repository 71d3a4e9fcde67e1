"""A repair the control plane refuses before any job (a row asking to keep a loop area in
the fstab, which no fstab line brings back: rows made before persist was refused at
create) is backed off like a failed repair: said once a back-off, not once a check."""

from __future__ import annotations

import pytest
from django.utils import timezone

from swapadmin.core.models import Backend, Job
from swapadmin.health.models import BackendHealth
from swapadmin.health.repair import maybe_repair

pytestmark = pytest.mark.django_db

WANTS_PERSIST = [
    {"check": "fstab", "status": "warn", "message": "no line", "value": {"repair": "persist"}}
]


def test_a_refused_repair_is_backed_off_and_queues_nothing(host_row, caplog):
    backend = Backend.objects.create(
        host=host_row,
        kind="loop",
        name="old-loop",
        params={"path": "/var/tmp/old.swap"},
        persist=True,
        auto_repair=True,
        provisioned_at=timezone.now(),
    )
    BackendHealth.objects.create(backend=backend, status="warn")

    assert maybe_repair(backend, WANTS_PERSIST) is None
    health = BackendHealth.objects.get(backend=backend)
    assert health.repair_attempts == 1 and health.next_repair_at > timezone.now()
    assert "cannot be kept in the fstab" in caplog.text
    assert not Job.objects.exists()

    # The next check, within the back-off, says nothing more.
    caplog.clear()
    assert maybe_repair(backend, WANTS_PERSIST) is None
    assert "cannot repair" not in caplog.text
    assert BackendHealth.objects.get(backend=backend).repair_attempts == 1
