"""A retention setting that is not a number of days (negative, NaN) stops the start with
the variable named, instead of a retention task that silently keeps or deletes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def start_with(name: str, value: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, name: value}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("value", ["-1", "nan", "NaN"])
@pytest.mark.parametrize("name", ["SWAPADMIN_JOB_RETENTION_DAYS", "SWAPADMIN_AUDIT_RETENTION_DAYS"])
def test_it_is_refused_by_name(name: str, value: str) -> None:
    done = start_with(name, value)
    assert done.returncode != 0
    assert f"{name} must be 0 (keep for ever) or a number of days" in done.stderr


def test_zero_and_a_fraction_are_fine() -> None:
    assert start_with("SWAPADMIN_JOB_RETENTION_DAYS", "0").returncode == 0
    assert start_with("SWAPADMIN_JOB_RETENTION_DAYS", "0.5").returncode == 0
