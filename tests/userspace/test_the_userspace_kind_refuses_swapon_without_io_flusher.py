"""The user-space kind swaps on only where its daemon runs with PR_SET_IO_FLUSHER: without
it, the daemon's own allocations can enter reclaim, which may write to the very area it
serves and wait for it (a deadlock). So where the flag is refused (no CAP_SYS_RESOURCE, as
on this VM and in CI), activation is refused with words that say so, and nothing changes;
where it is granted, the area is swapped on below every other active area, to fill last.
Which branch runs is asked of the kernel at run time. An area someone swapped on by hand
can still be swapped off."""

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


def host_as_it_is(uswap_dir: Path) -> tuple[str, dict[str, str], list[str], list[object]]:
    return (
        Path("/proc/swaps").read_text(),
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
    if granted:
        priority = job.swapon()
        try:
            others = [a for a in kernel.swap_areas() if a.path != dev]
            assert all(a.priority > priority for a in others)
            assert kernel.is_active(dev)
        finally:
            run("swapoff", dev, check=False)
    else:
        before = host_as_it_is(uswap_dir)
        # As handlers._swapon does it: the proven descriptor first, then swapon(2).
        with pytest.raises(IoFlusherRefused) as refused:
            store = job.open_for_swapon()
            try:
                kernel.swapon(dev, fd=store.fd)
            finally:
                store.close()
        words = refused.value.message
        assert IO_FLUSHER_WHY in words and "CAP_SYS_RESOURCE" in words
        assert "Nothing was changed" in words
        with pytest.raises(IoFlusherRefused):
            job.swapon()
        assert host_as_it_is(uswap_dir) == before
        assert job.state == plugin.state
        job.verify()  # a health check or a destroy still proves the store its own
    job.close()
    job.swapfile(False)


@needs_root
def test_an_area_swapped_on_by_hand_can_still_be_swapped_off(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = made(swap_root, policy)
    dev = plugin.swap_path
    run("swapon", dev)
    try:
        job = later(plugin)  # the deactivate job's plugin, as handlers._swapoff uses it
        store = job.open_for_swapon()
        try:
            kernel.swapoff(f"/proc/self/fd/{store.fd}", policy=policy)
        finally:
            store.close()
        assert not kernel.is_active(dev)
    finally:
        run("swapoff", dev, check=False)
    later(plugin).swapfile(False)


def test_it_asks_a_priority_below_every_other_area() -> None:
    def areas(*priorities: int) -> list[kernel.SwapArea]:
        return [kernel.SwapArea(f"/dev/a{p}", "partition", 1 << 20, 0, p) for p in priorities]

    assert lowest_priority(areas()) is None  # alone: the kernel's own
    assert lowest_priority(areas(10, 3)) == 2
    assert lowest_priority(areas(1)) == 0
    # Below 0 only the kernel assigns priorities: swapon checks afterwards where it landed.
    assert lowest_priority(areas(0)) is None
    assert lowest_priority(areas(5, -2)) is None
