"""swapoff refuses when the area's pages would not fit in RAM, and otherwise runs shielded
from the OOM killer, restoring the process's oom_score_adj afterwards."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from backends import kernel
from backends.errors import KernelError, UnsafeError
from backends.policy import Policy
from tests.backends.samples import make_swapfile, swapped_off_after
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.root, needs_root]


def _greedy(policy: Policy) -> Policy:
    """A policy whose margin no host can keep free: every swapoff must be refused."""
    return Policy(
        swap_roots=policy.swap_roots, swapoff_margin_bytes=kernel.meminfo().mem_available + 2**30
    )


def test_it_deactivates_an_area_that_fits(swap_root: Path, policy: Policy) -> None:
    path = make_swapfile(swap_root)
    with swapped_off_after(path):
        kernel.swapon(str(path))
        kernel.swapoff(str(path), policy=policy)
        assert not kernel.is_active(str(path))


def test_it_refuses_when_ram_would_not_hold_the_pages(swap_root: Path, policy: Policy) -> None:
    path = make_swapfile(swap_root)
    with swapped_off_after(path):
        kernel.swapon(str(path), priority=11)
        with pytest.raises(UnsafeError, match="SWAPADMIN_SWAPOFF_MARGIN_BYTES"):
            kernel.swapoff(str(path), policy=_greedy(policy))
        area = kernel.find_area(str(path))
        assert area is not None and area.priority == 11


def test_the_ram_check_alone_refuses_the_same_area(swap_root: Path, policy: Policy) -> None:
    area = kernel.SwapArea(str(swap_root / "x"), "file", 2**20, 0, -2)
    kernel.check_swapoff_fits(area, policy)
    with pytest.raises(UnsafeError, match="must stay free"):
        kernel.check_swapoff_fits(area, _greedy(policy))


def test_force_skips_the_ram_check(swap_root: Path, policy: Policy) -> None:
    path = make_swapfile(swap_root)
    with swapped_off_after(path):
        kernel.swapon(str(path))
        kernel.swapoff(str(path), policy=_greedy(policy), force=True)
        assert not kernel.is_active(str(path))


def test_it_says_an_inactive_area_is_not_active(swap_root: Path, policy: Policy) -> None:
    path = make_swapfile(swap_root)
    with pytest.raises(KernelError, match="not an active swap area") as err:
        kernel.swapoff(str(path), policy=policy)
    assert err.value.errno == errno.EINVAL


def _has_cap_sys_resource() -> bool:
    status = Path("/proc/self/status").read_text()
    cap_eff = next(line for line in status.splitlines() if line.startswith("CapEff:"))
    return bool(int(cap_eff.split()[1], 16) & (1 << 24))


def test_it_restores_oom_score_adj(swap_root: Path, policy: Policy) -> None:
    adj = Path("/proc/self/oom_score_adj")
    before = adj.read_text()
    adj.write_text("123")
    try:
        with kernel._oom_protected():
            assert adj.read_text().strip() == ("-1000" if _has_cap_sys_resource() else "123")
        assert adj.read_text().strip() == "123"
        path = make_swapfile(swap_root)
        with swapped_off_after(path):
            kernel.swapon(str(path))
            kernel.swapoff(str(path), policy=policy)
        assert adj.read_text().strip() == "123"
    finally:
        adj.write_text(before)
