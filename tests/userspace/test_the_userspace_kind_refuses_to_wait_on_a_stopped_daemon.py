"""A uswapd that is stopped (SIGSTOP, a debugger) would make every request to its mount wait
for ever, and the job with it. So a job that would send it one (a write's open, an enable,
a release) looks at the daemon's run state in /proc first, which never waits on it, and is
refused with words that say so, changing nothing; once the daemon runs again, each works.
A watchdog bounds every step: a hang fails the test instead of stalling the suite."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from swapadmin_userspace import daemon as uswapd

from backends.base import PAGE_SIZE
from backends.errors import BusyError
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_until
from tests.userspace.served import later, made, recorded, stats, within_watchdog


@needs_root
def test_a_stopped_daemon_is_refused_and_nothing_waits_on_it(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = made(swap_root, policy)
    d = recorded(plugin)
    mp = plugin.mountpoint
    assert mp is not None
    store = Path(plugin.file_path).read_bytes()
    writes = stats(plugin)["writes"]
    fd = os.pidfd_open(d.pid)
    try:
        signal.pidfd_send_signal(fd, signal.SIGSTOP)
        try:
            # The signal is delivered when the daemon next leaves the kernel or is
            # scheduled: until then /proc may still say R (round 122 saw it).
            wait_until(lambda: uswapd.run_state(d.pid) in ("T", "t"), 30, "uswapd stopping")
            for act in (
                lambda: later(plugin).swap_out(7, b"\xa5" * PAGE_SIZE),
                lambda: later(plugin).swapfile(True),
                lambda: later(plugin).swapfile(False),
            ):
                raised = within_watchdog(act)
                assert isinstance(raised, BusyError), raised
                assert f"uswapd pid {d.pid}" in raised.message
                assert f"kill -CONT {d.pid}" in raised.message
            assert uswapd.mount_at(mp) is not None and d.alive()
        finally:
            signal.pidfd_send_signal(fd, signal.SIGCONT)
    finally:
        os.close(fd)
    assert Path(plugin.file_path).read_bytes() == store
    assert stats(plugin)["writes"] == writes
    # Running again: the same write goes through it.
    job = later(plugin)
    job.swap_out(7, b"\xa5" * PAGE_SIZE)
    job.close()
    assert stats(plugin)["writes"] == writes + 1
    page = Path(plugin.file_path).read_bytes()[7 * PAGE_SIZE : 8 * PAGE_SIZE]
    assert page == b"\xa5" * PAGE_SIZE
    later(plugin).swapfile(False)
    assert not d.alive()


def test_the_run_state_of_no_process_is_none() -> None:
    assert uswapd.run_state(os.getpid()) in ("R", "S")
    assert uswapd.run_state(2**22 + 1) is None  # above pid_max's ceiling: no such process
