"""Where the kernel offers the memory controller on cgroup v2 (Debian 12, Ubuntu 22.04+,
Fedora, RHEL 9), a burn-in runs in a v2 cgroup: memory.max makes the kernel swap the hog to
the area, memory.swap.current/peak say how much, and the cgroup is gone afterwards.

This VM binds memory to a v1 hierarchy, so these skip here, saying why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backends import burnin, cgroups
from backends.plugins.file import FileBackend
from tests.backends.burnin_cgroups.conftest import has_memory_on_v2
from tests.fixtures.host import needs_root

pytestmark = needs_root
MiB = 1 << 20


@pytest.fixture
def v2(cgroup2_parent: Path) -> cgroups.V2Hierarchy:
    if not has_memory_on_v2(cgroup2_parent):
        pytest.skip(
            "the kernel offers no memory controller on cgroup v2 here (it is bound to the v1 "
            f"hierarchy at {cgroups.v1_memory_mount(cgroups.cgroup_mounts())})"
        )
    return cgroups.V2Hierarchy(cgroup2_parent)


def test_it_swaps_out_and_back_in_and_removes_the_cgroup(
    active: FileBackend, v2: cgroups.V2Hierarchy
) -> None:
    result = burnin.burn_in(
        active, memory_limit_bytes=64 * MiB, hog_bytes=160 * MiB, seconds=5, hierarchy=v2
    )
    assert result.cgroup_version == 2
    assert Path(result.cgroup).parent == v2.parent
    assert result.pswpout > 0 and result.pswpin > 0
    assert result.peak_used_bytes > 0
    if (v2.parent / "memory.swap.max").exists():  # the kernel accounts swap per cgroup
        assert result.cgroup_swap_peak_bytes is not None
        assert result.cgroup_swap_peak_bytes > 32 * MiB
    assert result.failcnt > 0  # reclaim at memory.max is what pushed the pages out
    assert result.oom_kills == 0 and result.corrupt_pages == 0
    assert result.healthy
    assert not Path(result.cgroup).exists()


def test_it_kills_the_hog_and_removes_the_cgroup_when_the_caller_fails(
    active: FileBackend, v2: cgroups.V2Hierarchy
) -> None:
    seen: dict[str, object] = {}

    def explode(done: int, total: int) -> None:
        if done > 500:
            (cg,) = v2.parent.glob(burnin.CGROUP_PREFIX + "*")
            seen["cgroup"] = cg
            seen["pids"] = (cg / "cgroup.procs").read_text().split()
            raise RuntimeError("the job layer went away")

    with pytest.raises(RuntimeError, match="went away"):
        burnin.burn_in(
            active,
            memory_limit_bytes=32 * MiB,
            hog_bytes=96 * MiB,
            seconds=30,
            progress=explode,
            hierarchy=v2,
        )
    assert seen["pids"]
    assert not Path(str(seen["cgroup"])).exists()
    for pid in seen["pids"]:  # type: ignore[attr-defined]
        assert not os.path.exists(f"/proc/{pid}")
