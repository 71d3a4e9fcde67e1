"""Every kind's exclusivity check asks each loop device which file it serves
(LOOP_GET_STATUS64), one over a uswapd area included. For a file on a FUSE mount that
question may go to the file's daemon, and a stopped daemon would make it wait for ever,
holding up another backend's job. uswapd answers with attributes the kernel keeps for a day,
so the question is answered without it, after the area was written through too. A review
proposed passing such devices over unasked; that failed open (a name in sysfs can lead to
another file), so this is what keeps the question safe. A watchdog bounds each question."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from swapadmin_userspace import daemon as uswapd

from backends import store as store_mod
from backends.base import PAGE_SIZE
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_until
from tests.userspace.served import later, made, recorded, within_watchdog


@needs_root
def test_a_loop_over_a_stopped_daemons_area_is_answered_without_it(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = made(swap_root, policy)
    job = later(plugin)
    job.swap_out(3, b"\x5a" * PAGE_SIZE)  # the area written through: its times changed
    job.close()
    d, dev, mp = recorded(plugin), plugin.device, plugin.mountpoint
    assert dev is not None and mp is not None
    area = os.stat(f"{mp}/area")  # while the daemon runs: a lookup would wait for it
    other = swap_root / "another-backends-file"
    other.write_bytes(b"\0" * PAGE_SIZE)
    fd = os.pidfd_open(d.pid)
    try:
        signal.pidfd_send_signal(fd, signal.SIGSTOP)
        wait_until(lambda: uswapd.run_state(d.pid) in ("T", "t"), 30, "uswapd stopping")
        found: list[list[str]] = []
        for st in (other.stat(), area):
            assert within_watchdog(lambda st=st: found.append(store_mod.loops_serving(st))) is None
        # Answered, not failed: the area's own device is still found by its identity.
        assert found == [[], [dev]]
    finally:
        try:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(fd, signal.SIGCONT)
        finally:
            os.close(fd)
