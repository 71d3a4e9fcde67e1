"""A stored state that names someone else's loop device (reused after we detached) is
never detached nor reused."""

from __future__ import annotations

import uuid
from pathlib import Path

from backends.plugins.loop import LoopBackend
from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root

MiB = 1024 * 1024


@needs_root
def test_it_forgets_a_foreign_device(loop_device: str, swap_root: Path, policy: Policy) -> None:
    foreign_backing = attached_loops()[loop_device]
    backend = LoopBackend(
        {"path": str(swap_root / "swap0")},
        size_bytes=8 * MiB,
        policy=policy,
        state={"device": loop_device},
    )
    backend.swapfile(False)
    assert backend.state == {}
    assert attached_loops()[loop_device] == foreign_backing

    # Its provision, with the stale device still in the state.
    backend = LoopBackend(
        {"path": str(swap_root / "swap0")},
        size_bytes=8 * MiB,
        policy=policy,
        state={"device": loop_device},
        provisioning=True,
        owner=str(uuid.uuid4()),
    )
    backend.swapfile(True)
    try:
        assert backend.state["device"] != loop_device
        assert attached_loops()[loop_device] == foreign_backing
    finally:
        backend.swapfile(False)
    assert attached_loops()[loop_device] == foreign_backing
