"""On cgroup v2 without the memory controller (bound to a v1 hierarchy, as on this VM), a
burn-in is refused with the reason, before it makes any cgroup."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import burnin, cgroups
from backends.errors import BackendError
from backends.plugins.file import FileBackend
from tests.backends.burnin_cgroups.conftest import has_memory_on_v2
from tests.fixtures.host import needs_root

pytestmark = needs_root
MiB = 1 << 20


@pytest.fixture
def no_memory_on_v2(cgroup2_parent: Path) -> Path:
    if has_memory_on_v2(cgroup2_parent):
        pytest.skip("this kernel offers the memory controller on cgroup v2")
    return cgroup2_parent


def cgroups_under(top: Path) -> set[Path]:
    return {p for p in top.rglob("*") if p.is_dir()}


def test_the_mount_the_test_made_is_read_from_mountinfo(cgroup2_mount: Path) -> None:
    mounts = cgroups.cgroup_mounts()
    assert any(m.fstype == "cgroup2" and m.point == cgroup2_mount for m in mounts)


def test_the_refusal_names_the_v1_hierarchy_that_holds_memory(no_memory_on_v2: Path) -> None:
    v1 = cgroups.v1_memory_mount(cgroups.cgroup_mounts())
    with pytest.raises(BackendError) as refused:
        cgroups.V2Hierarchy(no_memory_on_v2).check()
    message = str(refused.value)
    assert f"no memory controller in the cgroup v2 hierarchy at {no_memory_on_v2}" in message
    if v1 is not None:
        assert f"bound to the cgroup v1 hierarchy at {v1}" in message
    assert "cgroup.controllers lists" in message
    assert cgroups_under(no_memory_on_v2) == set()
    assert (no_memory_on_v2 / "cgroup.subtree_control").read_text().split() == []


def test_the_kernel_refuses_to_enable_memory_and_the_error_says_so(no_memory_on_v2: Path) -> None:
    with pytest.raises(BackendError, match="memory controller is not available in"):
        cgroups.enable_controller(no_memory_on_v2, cgroups.MEMORY)
    assert cgroups.MEMORY not in (no_memory_on_v2 / "cgroup.subtree_control").read_text()


def test_a_burn_in_on_v2_is_refused_and_leaves_nothing(
    active: FileBackend, no_memory_on_v2: Path, cgroup2_mount: Path
) -> None:
    before = cgroups_under(cgroup2_mount)
    with pytest.raises(BackendError, match="no memory controller"):
        burnin.burn_in(
            active,
            memory_limit_bytes=32 * MiB,
            hog_bytes=64 * MiB,
            seconds=1,
            hierarchy=cgroups.V2Hierarchy(no_memory_on_v2),
        )
    assert cgroups_under(cgroup2_mount) == before
    assert not list(cgroup2_mount.rglob(burnin.CGROUP_PREFIX + "*"))
