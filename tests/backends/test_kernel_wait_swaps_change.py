"""/proc/swaps is pollable: a waiter wakes when another thread activates an area."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from backends import kernel
from backends.policy import Policy
from tests.backends.samples import make_swapfile, swapped_off_after
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.root, needs_root]


def test_it_wakes_when_another_thread_swapons(swap_root: Path) -> None:
    path = make_swapfile(swap_root)
    with swapped_off_after(path):
        later = threading.Timer(0.5, kernel.swapon, args=(str(path),))
        started = time.monotonic()
        later.start()
        try:
            assert kernel.wait_swaps_change(10.0)
        finally:
            later.join()
        assert time.monotonic() - started < 5
        assert kernel.is_active(str(path))


def test_a_watcher_sees_a_change_made_between_waits(swap_root: Path, policy: Policy) -> None:
    path = make_swapfile(swap_root)
    with swapped_off_after(path), kernel.SwapsWatcher() as watcher:
        kernel.swapon(str(path))
        assert watcher.wait(0)
        kernel.swapoff(str(path), policy=policy)
        assert watcher.wait(0)


def test_it_times_out_when_nothing_changes() -> None:
    # Other engineers' tests may swapon at any moment; one quiet window in three is enough.
    assert not all(kernel.wait_swaps_change(0.2) for _ in range(3))
