"""A loop device that discovery adopted (a sysadmin attached a swap file under the swap root
with losetup) is recorded as adopted in the backend's store record. The plugin goes by that
record, not by the row's ``adopted`` column (which a job may find false): releasing it
forgets the device without detaching it, and the file behind it is never resized."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from backends.errors import NotOursError
from backends.plugins.loop import LoopBackend
from backends.policy import Policy
from tests.backends.test_cli_inspect_reads_headers import allocated
from tests.fixtures.by_hand import attached
from tests.fixtures.host import attached_loops, needs_root, run
from tests.fixtures.stores import rebuilt
from tests.ownership.conftest import digest

pytestmark = [pytest.mark.root, needs_root]


def _adopted(path: Path, dev: str, policy: Policy) -> LoopBackend:
    """The plugin as discovery adopts an attached loop device (``handlers._adopt``)."""
    plugin = LoopBackend(
        {"path": str(path)}, size_bytes=os.path.getsize(path), policy=policy,
        state={"device": dev},
    )  # fmt: skip
    plugin.adopt_store()
    plugin.close()
    assert plugin.record["adopted"] is True and plugin.record["uuid"]
    return plugin


def _theirs(swap_root: Path) -> Path:
    path = allocated(swap_root / "theirs")
    run("mkswap", "-q", "-L", "theirs", str(path))
    return path


def test_release_forgets_the_device_without_detaching_it(swap_root: Path, policy: Policy) -> None:
    path = _theirs(swap_root)
    with attached(path) as dev:
        before = digest(path)
        job = rebuilt(_adopted(path, dev, policy), owner=str(uuid.uuid4()))  # destroy's plugin
        job.swapfile(False)
        assert "device" not in job.state
        assert attached_loops().get(dev) == str(path)
        assert digest(path) == before


def test_resize_is_refused(swap_root: Path, policy: Policy) -> None:
    path = _theirs(swap_root)
    size = path.stat().st_size
    with attached(path) as dev:
        before = digest(path)
        job = rebuilt(_adopted(path, dev, policy), owner=str(uuid.uuid4()))  # resize's plugin
        with pytest.raises(NotOursError, match="adopted"):
            job.resize(2 * size)
        job.close()
        assert path.stat().st_size == size and digest(path) == before
        assert attached_loops().get(dev) == str(path)
