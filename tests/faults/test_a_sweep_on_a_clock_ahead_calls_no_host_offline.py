"""The sweep and the offline check run wherever beat sends them: a worker whose clock is 5
minutes ahead (for real, under libfaketime). A host that has just sent its heartbeat (in the
database's clock) is online for them too: its queued job is not stamped "host … is offline",
and no "stopped sending heartbeats" event is raised. Before, both compared the heartbeat with
their own clock and called every host of the fleet offline."""

from __future__ import annotations

import os
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.db.models.functions import Now

from swapadmin.core.models import Host, Job
from swapadmin.health.models import HealthEvent, HostHealth
from tests.fixtures import workers
from tests.fixtures.clock import run_with_clock_off

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[2]
SWEEPS = (
    "from swapadmin.core import tasks; from swapadmin.health.tasks import mark_offline_hosts; "
    "from django.utils import timezone; "
    "print('now', timezone.now().isoformat()); "
    "print('sweep', tasks.sweep()); print('offline check', mark_offline_hosts())"
)


def test_a_host_heard_from_now_is_online_for_a_sweep_5_minutes_ahead(host_row, tmp_path):
    Host.objects.filter(pk=host_row.pk).update(last_heartbeat=Now())
    HostHealth.objects.create(host=host_row, online=True)
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host_row, state=Job.State.QUEUED)
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=workers.test_database_url(), SWAPADMIN_DATA_DIR=str(tmp_path / "data"))
    out = run_with_clock_off(
        300, [sys.executable, "manage.py", "shell", "-c", SWEEPS], env=env, timeout=120, cwd=REPO
    )
    assert "'offline_hosts': 0" in out.stdout, out.stdout + out.stderr
    assert "offline check 0" in out.stdout, out.stdout + out.stderr
    # The clock was off for real.
    its_now = datetime.fromisoformat(re.search(r"^now (\S+)$", out.stdout, re.M)[1])
    assert its_now - Host.objects.get(pk=host_row.pk).last_heartbeat > timedelta(seconds=200)
    assert Job.objects.get(pk=job.pk).waiting_reason == ""
    assert HostHealth.objects.get(host=host_row).online is True
    assert not HealthEvent.objects.filter(host=host_row).exists()
