from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def on_testhost(settings, tmp_path: Path) -> None:
    """This process plays the worker of ``host_row`` ("testhost"), with its own lock dir."""
    settings.SWAPADMIN_HOST = "testhost"
    settings.DATA_DIR = tmp_path
    settings.SWAPADMIN_FSTAB = tmp_path / "fstab"
