"""The user-space kind swaps on only where its daemon runs with PR_SET_IO_FLUSHER: without
it, the daemon's own allocations can enter reclaim, which may write to the very area it
serves and wait for it (a deadlock). So where the flag is refused (no CAP_SYS_RESOURCE, as
on this VM and in CI), activation is refused with words that say so, and nothing changes;
where it is granted, the area is swapped on below every other active area, to fill last.
Which branch runs is asked of the kernel at run time. Every activation comes through the
kind's ``swap_on`` (the worker's activate and its swapoff-and-on for a new priority), which
also refuses a discard policy (the daemon keeps its store allocated) and an asked priority
that is not below every other area's, before the flag is even asked, changing nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from swapadmin_userspace.plugin import (
    IO_FLUSHER_WHY,
    IoFlusherRefused,
    io_flusher_granted,
    lowest_priority,
)

from backends import kernel
from backends.errors import UnsafeError
from backends.policy import Policy
from tests.fixtures.host import attached_loops, mounts_under, needs_root, run
from tests.userspace.served import (
    daemons_under,
    later,
    made,
    stats,
)


def granted_here() -> bool:
    """Whether PR_SET_IO_FLUSHER is granted on this machine, asked in a child of its own
    (apart from the plugin's probe, which the test compares with it)."""
    code = (
        "import ctypes, sys\n"
        "sys.exit(0 if ctypes.CDLL(None, use_errno=True).prctl(57, 1, 0, 0, 0) == 0 else 1)\n"
    )
    return subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def host_as_it_is(
    uswap_dir: Path,
) -> tuple[list[tuple[str, str]], dict[str, str], list[str], list[object]]:
    # The areas by path and priority, not by use: the kernel may swap to the test's own
    # area at any moment (a round once saw its "Used" go from 0 to 144 KiB between reads).
    return (
        [(a.path, str(a.priority)) for a in kernel.swap_areas()],
        attached_loops(),
        mounts_under(str(uswap_dir)),
        list(daemons_under(uswap_dir)),
    )


@needs_root
def test_activation_follows_what_the_daemon_was_granted(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    granted = granted_here()
    plugin = made(swap_root, policy)
    assert io_flusher_granted() is granted
    assert plugin.state["io_flusher"] is granted
    assert stats(plugin)["io_flusher"] == int(granted)

    job = later(plugin)  # the activate job's plugin
    job.swapfile(True)  # its check of the store changes nothing
    dev = job.swap_path
    # As handlers._swapon does it: the proven descriptor first, then the kind's swap_on.
    store = job.open_for_swapon()
    try:
        if granted:
            job.swap_on(store, priority=None, discard=None)
            try:
                ours = kernel.find_area(dev)
                assert ours is not None
                others = [a for a in kernel.swap_areas() if a.path != dev]
                assert all(a.priority > ours.priority for a in others)
            finally:
                run("swapoff", dev, check=False)
        else:
            before = host_as_it_is(uswap_dir)
            with pytest.raises(IoFlusherRefused) as refused:
                job.swap_on(store, priority=None, discard=None)
            words = refused.value.message
            assert IO_FLUSHER_WHY in words and "CAP_SYS_RESOURCE" in words
            assert "Nothing was changed" in words
            assert host_as_it_is(uswap_dir) == before
            assert job.state == plugin.state
    finally:
        store.close()
    job.verify()  # a health check or a destroy still proves the store its own
    job.close()
    job.swapfile(False)


@needs_root
def test_a_discard_policy_or_a_priority_that_is_not_the_lowest_is_refused(
    swap_root: Path, policy: Policy, uswap_dir: Path, scratch: Path
) -> None:
    plugin = made(swap_root, policy)
    job = later(plugin)
    # Another area of the test's own, at priority 5.
    other = scratch / "other.swap"
    run("fallocate", "-l", "4M", str(other))
    other.chmod(0o600)
    run("mkswap", str(other))
    run("swapon", "-p", "5", str(other))
    try:
        before = host_as_it_is(uswap_dir)
        store = job.open_for_swapon()
        try:
            with pytest.raises(UnsafeError, match="discard='once'") as refused:
                job.swap_on(store, priority=None, discard="once")
            assert refused.value.field == "discard"
            assert "refuses every discard" in refused.value.message
            for priority in (5, 6):
                with pytest.raises(UnsafeError, match=f"{other} has priority 5") as refused:
                    job.swap_on(store, priority=priority, discard=None)
                assert refused.value.field == "priority"
                assert "must be the last to fill" in refused.value.message
        finally:
            store.close()
        assert host_as_it_is(uswap_dir) == before
        assert not kernel.is_active(job.swap_path)
    finally:
        run("swapoff", str(other), check=False)
    job.close()
    job.swapfile(False)


def test_it_asks_a_priority_below_every_other_area() -> None:
    def areas(*priorities: int) -> list[kernel.SwapArea]:
        return [kernel.SwapArea(f"/dev/a{p}", "partition", 1 << 20, 0, p) for p in priorities]

    assert lowest_priority(areas()) is None  # alone: the kernel's own
    assert lowest_priority(areas(10, 3)) == 2
    assert lowest_priority(areas(1)) == 0
    # Below 0 only the kernel assigns priorities, each one lower than all it gave before.
    assert lowest_priority(areas(0)) is None
    assert lowest_priority(areas(5, -2)) is None
