"""The user-space kind's tests serve their stores from under the test's own scratch
directory, and take down all they served afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.workers import WorkerProcess
from tests.userspace.served import take_down


@pytest.fixture
def uswap_dir(scratch: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """SWAPADMIN_USWAP_DIR inside the test's scratch directory: the daemons' mount points
    (and so their loop devices' backing files) lie under the session's base, where the
    session's final check looks. Everything served from it is taken down afterwards."""
    where = scratch / "run"
    monkeypatch.setenv("SWAPADMIN_USWAP_DIR", str(where))
    try:
        yield where
    finally:
        take_down(where)


@pytest.fixture
def worker(uswap_dir: Path, worker: WorkerProcess) -> WorkerProcess:
    """The worker, started only once SWAPADMIN_USWAP_DIR is set: it copies its environment
    when it starts, and must serve its stores from under the test's directory."""
    return worker
