"""SWAPADMIN_CANCEL_GRACE_SECONDS: how long a worker has to confirm a cancel before the sweep
fails the job, and the time a person asking is told. A value past a day, or not a number
of seconds at all (inf once made every cancel a 500 after it had landed: review 271/4),
stops the start with its name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = "from django.conf import settings; print(settings.SWAPADMIN_CANCEL_GRACE_SECONDS)"


def start(tmp_path: Path, value: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {PROBE}"], cwd=ROOT,
        capture_output=True, text=True, timeout=120,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "swapadmin.settings",
             "SWAPADMIN_DATA_DIR": str(tmp_path), "SWAPADMIN_CANCEL_GRACE_SECONDS": value},
    )  # fmt: skip


def test_a_grace_of_a_day_or_less_is_taken(tmp_path: Path) -> None:
    for value in ("0", "120", "86400"):
        result = start(tmp_path, value)
        assert result.returncode == 0, result.stderr[-2000:]
        assert float(result.stdout.split()[-1]) == float(value)


def test_a_grace_that_cannot_be_told_stops_the_start(tmp_path: Path) -> None:
    for value in ("-1", "86401", "inf", "1e12", "nan"):
        result = start(tmp_path, value)
        assert result.returncode != 0, value
        assert "SWAPADMIN_CANCEL_GRACE_SECONDS" in result.stderr, result.stderr[-2000:]
