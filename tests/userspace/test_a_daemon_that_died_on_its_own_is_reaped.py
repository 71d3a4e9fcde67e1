"""A uswapd that ends by other means than its release (it crashed, an operator killed it)
is this worker's child: unreaped, it would stay a zombie for the worker's whole life, one
per crash. The next daemon this worker starts collects it first, and the area is served
again by the new one; the release that ends a daemon collects it too."""

from __future__ import annotations

from pathlib import Path

from swapadmin_userspace import daemon as uswapd
from swapadmin_userspace.daemon import Daemon

from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.userspace.served import EXIT_SECONDS, ended, kill, later, made, recorded


def collected(d: Daemon) -> bool:
    """No process, zombie or not, is ``d`` any more: its pid is free or another's (one that
    took the number after it was collected has another start time)."""
    try:
        raw = Path(f"/proc/{d.pid}/stat").read_bytes()
    except FileNotFoundError:
        return True
    return int(raw[raw.rfind(b")") + 2 :].split()[19]) != d.start_time


@needs_root
def test_the_next_start_reaps_a_daemon_that_died(
    swap_root: Path, policy: Policy, uswap_dir: Path
) -> None:
    plugin = made(swap_root, policy)
    dead = recorded(plugin)
    kill(dead)
    assert ended(dead, EXIT_SECONDS)
    assert uswapd.run_state(dead.pid) == "Z"  # ended, and nobody has collected it yet

    job = later(plugin)
    job.swapfile(True)  # serves the store again over the dead daemon's mount
    assert collected(dead)  # not even a zombie remains
    fresh = recorded(job)
    assert fresh != dead and fresh.alive()
    later(job).swapfile(False)  # the release ends it, and collects it as well
    assert collected(fresh)
