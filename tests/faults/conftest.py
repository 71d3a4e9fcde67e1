"""Fault tests run the worker pool production runs (prefork, two processes, as
docker-compose.yml): a fault must be survived with jobs side by side and in a pool child,
not only in the single process of -P solo."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def start_worker(start_worker: Callable[..., Any]) -> Callable[..., Any]:
    def start(**options: Any) -> Any:
        options.setdefault("pool", "prefork")
        return start_worker(**options)

    return start


def pool_children(pid: int) -> list[int]:
    """The processes a worker's main process forked (its pool)."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]
