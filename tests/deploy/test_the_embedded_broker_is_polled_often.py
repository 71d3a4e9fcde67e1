"""`make run`'s embedded broker (kombu's filesystem transport) has no wake-up: the worker lists
its message directory every so often. kombu's default, once a second, cost every job half a
second on average and a create-then-activate two seconds, so swapadmin sets 10 ms, which
the transport the worker actually builds must carry. A value that cannot work stops the
start with its name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import django; django.setup(); from swapadmin.celery import app\n"
    "with app.connection_for_read() as c: print(c.transport.polling_interval)"
)


def embedded(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {
        k: v for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "SWAPADMIN_BROKER_POLL_SECONDS")
    }  # fmt: skip
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "swapadmin.settings",
             "SWAPADMIN_DATA_DIR": str(tmp_path), **env},
    )  # fmt: skip


def test_the_worker_lists_the_queue_every_10_ms(tmp_path: Path) -> None:
    result = embedded(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout.split()[-1]) == 0.01


def test_the_interval_can_be_set(tmp_path: Path) -> None:
    result = embedded(tmp_path, SWAPADMIN_BROKER_POLL_SECONDS="0.25")
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout.split()[-1]) == 0.25


def test_an_interval_that_cannot_work_stops_the_start(tmp_path: Path) -> None:
    for value in ("0", "-1", "60", "nan", "soon"):
        result = embedded(tmp_path, SWAPADMIN_BROKER_POLL_SECONDS=value)
        assert result.returncode != 0, value
        assert "SWAPADMIN_BROKER_POLL_SECONDS" in result.stderr, result.stderr[-2000:]
