"""A burn-in makes the kernel really swap to the area, and leaves no cgroup or hog behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backends import burnin, kernel
from backends.errors import UnsafeError, ValidationError
from backends.plugins.file import FileBackend
from tests.fixtures import burn_in
from tests.fixtures.host import needs_root

MiB = 1024 * 1024
AREA = burn_in.AREA

# The active area every test here swaps to, as the cgroup v2 tests' conftest has it.
backend = burn_in.backend
active = burn_in.active

needs_cgroup_v1 = pytest.mark.skipif(
    not (burnin.CGROUP_ROOT / "memory.limit_in_bytes").exists(),
    reason="no memory cgroup v1 hierarchy at /sys/fs/cgroup/memory",
)


def ours() -> set[Path]:
    return set(burnin.CGROUP_ROOT.glob(burnin.CGROUP_PREFIX + "*"))


@needs_root
@needs_cgroup_v1
def test_it_swaps_out_and_back_in_and_cleans_up(active: FileBackend) -> None:
    calls: list[tuple[int, int]] = []
    result = burnin.burn_in(
        active,
        memory_limit_bytes=64 * MiB,
        hog_bytes=160 * MiB,
        seconds=5,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert result.pswpout > 0
    assert result.pswpin > 0
    assert result.peak_used_bytes > 0
    assert result.passes >= 1 and result.pages_checked > 0
    assert result.corrupt_pages == 0
    assert result.oom_kills == 0
    assert result.healthy
    assert not Path(result.cgroup).exists()
    assert calls[-1] == (5000, 5000)
    assert result.to_dict()["healthy"] is True


@needs_root
@needs_cgroup_v1
def test_it_kills_the_hog_and_removes_the_cgroup_when_the_caller_fails(
    active: FileBackend,
) -> None:
    before = ours()
    seen: dict[str, object] = {}

    def explode(done: int, total: int) -> None:
        if done > 500:
            cg = (ours() - before).pop()
            seen["cgroup"] = cg
            seen["pids"] = (cg / "cgroup.procs").read_text().split()
            raise RuntimeError("the job layer went away")

    with pytest.raises(RuntimeError, match="went away"):
        burnin.burn_in(
            active, memory_limit_bytes=32 * MiB, hog_bytes=96 * MiB, seconds=30, progress=explode
        )
    assert seen["pids"]
    assert not Path(str(seen["cgroup"])).exists()
    for pid in seen["pids"]:  # type: ignore[attr-defined]
        assert not os.path.exists(f"/proc/{pid}")


@needs_root
def test_it_refuses_an_inactive_area(backend: FileBackend) -> None:
    before = ours()
    with pytest.raises(ValidationError, match="not active"):
        burnin.burn_in(backend, memory_limit_bytes=64 * MiB, hog_bytes=160 * MiB, seconds=1)
    assert ours() == before


@needs_root
def test_it_refuses_a_hog_that_would_be_oom_killed(active: FileBackend) -> None:
    with pytest.raises(UnsafeError, match="OOM"):
        burnin.burn_in(active, memory_limit_bytes=64 * MiB, hog_bytes=AREA + 65 * MiB, seconds=1)


@needs_root
def test_it_refuses_a_limit_that_could_starve_the_host(active: FileBackend) -> None:
    available = kernel.meminfo().mem_available
    with pytest.raises(UnsafeError, match="starve"):
        burnin.burn_in(active, memory_limit_bytes=available, hog_bytes=MiB, seconds=1)
