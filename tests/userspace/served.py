"""Helpers for the user-space kind's tests: areas provisioned as a provision job does, the
daemon's counters, and the take-down (conftest's ``uswap_dir`` runs it) that leaves nothing
of them on the machine, whatever happened in the test.

Teardown runs in the order the layers stack: swapoff, loop detach, unmount (``umount -l``
only as the last resort), then the daemons, waited for by pidfd and killed only if they
outlive their mount (each checked by its start time first, so no other process that took
its number is touched).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from swapadmin_userspace import daemon as uswapd
from swapadmin_userspace.daemon import Daemon
from swapadmin_userspace.plugin import UserspaceBackend

from backends.policy import Policy
from tests.fixtures.host import active_swaps, attached_loops, mounts_under, run
from tests.fixtures.stores import provisioned, rebuilt

MiB = 1 << 20
SIZE = 8 * MiB
#: How long a daemon may outlive its mount in a take-down before it is killed.
EXIT_SECONDS = 10.0


def made(swap_root: Path, policy: Policy, name: str = "store0") -> UserspaceBackend:
    """An area provisioned as a provision job does it (served, attached, formatted); the
    provision's plugin, closed."""
    with provisioned(
        "userspace", {"path": str(swap_root / name)}, size=SIZE, policy=policy
    ) as plugin:
        assert isinstance(plugin, UserspaceBackend)
    return plugin


def later(plugin: UserspaceBackend, **overrides: object) -> UserspaceBackend:
    """The plugin a later job builds from the saved state."""
    again = rebuilt(plugin, **overrides)
    assert isinstance(again, UserspaceBackend)
    return again


def stats(plugin: UserspaceBackend) -> dict[str, int]:
    """The daemon's counters, as its ``stats`` file says them."""
    assert plugin.mountpoint is not None
    text = Path(plugin.mountpoint, "stats").read_text()
    return {k: int(v) for k, v in (line.split() for line in text.splitlines() if line.strip())}


def store_bytes(plugin: UserspaceBackend) -> bytes:
    return Path(plugin.file_path).read_bytes()


def recorded(plugin: UserspaceBackend) -> Daemon:
    d = plugin.daemon
    assert d is not None
    return d


#: A watchdog, not a wait: each question is answered from /proc or the kernel at once.
WATCHDOG = 60.0


def within_watchdog(act: Callable[[], object]) -> BaseException | None:
    """What ``act`` raised (None if it returned), asserting that it ended in time: a hang
    on a stopped daemon fails the test instead of stalling the suite."""
    raised: list[BaseException | None] = []

    def run() -> None:
        try:
            act()
            raised.append(None)
        except BaseException as e:  # handed to the test
            raised.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(WATCHDOG)
    assert not t.is_alive(), f"still waiting after {WATCHDOG} s"
    return raised[0]


# ---- the take-down ----


def daemons_under(where: Path) -> list[Daemon]:
    """Every uswapd whose mount point lies under ``where``, known by pid and start time."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or os.path.basename(argv[0]) != b"uswapd" or b"--mountpoint" not in argv:
            continue
        at = argv.index(b"--mountpoint") + 1
        if at < len(argv) and os.fsdecode(argv[at]).startswith(str(where) + "/"):
            d = Daemon.of(int(pid))
            if d is not None:
                out.append(d)
    return out


def ended(d: Daemon, seconds: float) -> bool:
    """Whether daemon ``d`` ends within ``seconds``; waited for by its pidfd."""
    try:
        fd = os.pidfd_open(d.pid)
    except ProcessLookupError:
        return True
    try:
        if not d.alive():
            return True
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(seconds * 1000))
    finally:
        os.close(fd)


def kill(d: Daemon) -> None:
    """SIGKILL ``d`` through a pidfd checked to be that very process."""
    try:
        fd = os.pidfd_open(d.pid)
    except ProcessLookupError:
        return
    try:
        if d.alive():
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    finally:
        os.close(fd)


def take_down(where: Path) -> None:
    """Swap off, detach, unmount and end everything served from under ``where``."""
    base = str(where) + "/"
    daemons = daemons_under(where)
    loops = {dev for dev, f in attached_loops().items() if f.startswith(base)}
    for dev in active_swaps():
        if dev in loops:
            run("swapoff", dev, check=False)
    for dev in loops:
        run("losetup", "-d", dev, check=False)
    for mnt in sorted(mounts_under(base), key=len, reverse=True):
        if run("umount", mnt, check=False).returncode != 0:
            run("umount", "-l", mnt, check=False)  # the last resort: gone with its last user
    for d in daemons:
        if not ended(d, EXIT_SECONDS):
            kill(d)
            assert ended(d, EXIT_SECONDS), f"uswapd {d.describe()} outlived SIGKILL"
    uswapd.reap_ended()  # those this process started: no zombie left for the run's end
    with contextlib.suppress(OSError):
        for entry in where.iterdir():
            if entry.is_dir() and not os.path.ismount(entry):
                with contextlib.suppress(OSError):
                    entry.rmdir()
