"""The kind's swapon options are asked of a backend whose store is not made yet, as a
provision that goes on to activate asks them before it makes anything: a discard is
refused with words that name the area as such, and a priority below every active area's
is taken (review finding: asking them raised "not attached to a loop device", so every
such create failed)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from swapadmin_userspace.plugin import UserspaceBackend

from backends import kernel
from backends.errors import UnsafeError
from backends.policy import Policy

MiB = 1 << 20


def test_options_are_asked_before_anything_is_made(swap_root: Path, policy: Policy) -> None:
    plugin = UserspaceBackend(
        {"path": str(swap_root / "store0")},
        size_bytes=8 * MiB,
        policy=policy,
        provisioning=True,
        owner=str(uuid.uuid4()),
    )
    with pytest.raises(UnsafeError) as refused:
        plugin.check_swapon_options(None, "once")
    assert refused.value.field == "discard"
    assert refused.value.message.startswith("the area is not swapped on with discard='once'")
    lowest = min((a.priority for a in kernel.swap_areas()), default=1)
    if lowest >= 1:
        plugin.check_swapon_options(lowest - 1, None)
    highest = max((a.priority for a in kernel.swap_areas()), default=None)
    if highest is not None:
        with pytest.raises(UnsafeError, match="must be the last to fill"):
            plugin.check_swapon_options(highest, None)
    assert not (swap_root / "store0").exists()
