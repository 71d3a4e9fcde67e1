"""A stop signal that is pending, not yet taken, counts as a stop: the process stops the
moment it next leaves the kernel, and a request sent to a daemon then waits for ever. /proc
shows such a process still running or waiting (here: D, waiting on a stopped daemon's mount,
where only a fatal signal wakes it), with SIGSTOP in its pending set; its run state alone
would have let the refusal through (review suggestion: SigPnd/ShdPnd)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from swapadmin_userspace import daemon as uswapd

from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_until
from tests.userspace.served import made, recorded


def wchan(pid: int) -> str:
    """Where in the kernel the process waits (``request_wait_answer``: FUSE's)."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return ""


@needs_root
def test_a_process_with_sigstop_pending_is_stopping(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = made(swap_root, policy)
    d, mp = recorded(plugin), plugin.mountpoint
    assert mp is not None
    fd = os.pidfd_open(d.pid)
    reader: subprocess.Popen[bytes] | None = None
    try:
        signal.pidfd_send_signal(fd, signal.SIGSTOP)
        wait_until(lambda: uswapd.run_state(d.pid) in ("T", "t"), 30, "uswapd stopping")
        assert uswapd.stopping(d.pid)
        # A reader of the stopped daemon's mount waits for its answer.
        reader = subprocess.Popen(["cat", f"{mp}/stats"], stdout=subprocess.DEVNULL)
        wait_until(
            lambda: "request_wait_answer" in wchan(reader.pid),
            30,
            "the reader waiting on the mount",
        )
        assert not uswapd.stopping(reader.pid)
        os.kill(reader.pid, signal.SIGSTOP)
        # FUSE turns the interrupted wait into one only a fatal signal ends: the stop is
        # pending for as long as the daemon does not answer.
        wait_until(lambda: uswapd.run_state(reader.pid) == "D", 30, "the reader in D")
        assert uswapd.stopping(reader.pid)
        assert uswapd.run_state(reader.pid) == "D"
    finally:
        if reader is not None:
            reader.kill()
        signal.pidfd_send_signal(fd, signal.SIGCONT)
        os.close(fd)
        if reader is not None:
            reader.wait(60)
    assert not uswapd.stopping(d.pid)
