"""Fixtures the security tests share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .hookserver import HookServer


@pytest.fixture
def hook() -> Iterator[HookServer]:
    """A webhook receiver on loopback, closed after the test."""
    server = HookServer()
    yield server
    server.close()


@pytest.fixture
def event(host_row: Any) -> Any:
    """A health event of a backend of the test host, not yet delivered."""
    from swapadmin.core.models import Backend
    from swapadmin.health.models import HealthEvent

    backend = Backend.objects.create(host=host_row, kind="file", name="swap0", params={})
    return HealthEvent.objects.create(
        host=host_row, backend=backend, backend_name="swap0",
        from_status="ok", to_status="fail", message="not active",
    )  # fmt: skip
