"""A uswapd that ends by other means than its release (it crashed, an operator killed it)
is this worker's child: unreaped, it would stay a zombie for the worker's whole life, one
per crash. The next daemon this worker starts collects it first, and the area is served
again by the new one."""

from __future__ import annotations

from pathlib import Path

from swapadmin_userspace import daemon as uswapd

from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.userspace.served import EXIT_SECONDS, ended, kill, later, made, recorded


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
    assert uswapd.run_state(dead.pid) is None  # collected: not even a zombie remains
    fresh = recorded(job)
    assert fresh != dead and fresh.alive()
    later(job).swapfile(False)
    assert not fresh.alive()
