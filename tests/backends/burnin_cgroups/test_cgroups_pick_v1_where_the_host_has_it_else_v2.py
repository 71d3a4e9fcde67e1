"""The burn-in's cgroup is v1 where a v1 hierarchy holds the memory controller, v2 where the
host has only cgroup2, both found in /proc/self/mountinfo rather than at a guessed path."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import cgroups
from backends.errors import BackendError

# proc(5) mountinfo lines as these distributions mount their cgroups (written in that
# format, not captured: this VM has a hybrid layout).
DEBIAN12 = """\
22 29 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
29 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 \
rw,nsdelegate,memory_recursiveprot
"""
UBUNTU2004_HYBRID = """\
33 24 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
34 33 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 \
cgroup2 rw,nsdelegate
35 33 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup \
cgroup rw,xattr,name=systemd
38 33 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
41 33 0:36 / /sys/fs/cgroup/mem\\040ory rw,relatime shared:18 - cgroup cgroup rw,memory
"""


def test_a_cgroup2_only_host_gets_v2_at_its_mount_point() -> None:
    h = cgroups.find_hierarchy(cgroups.parse_mountinfo(DEBIAN12))
    assert isinstance(h, cgroups.V2Hierarchy)
    assert (h.version, h.parent) == (2, Path("/sys/fs/cgroup"))


def test_a_hybrid_host_whose_memory_is_v1_gets_v1_at_its_unescaped_mount_point() -> None:
    h = cgroups.find_hierarchy(cgroups.parse_mountinfo(UBUNTU2004_HYBRID))
    assert isinstance(h, cgroups.V1Hierarchy)
    assert (h.version, h.parent) == (1, Path("/sys/fs/cgroup/mem ory"))


def test_a_host_without_any_cgroup_mount_is_refused_with_the_reason() -> None:
    with pytest.raises(BackendError, match="neither a cgroup v1 memory hierarchy nor a cgroup2"):
        cgroups.find_hierarchy(cgroups.parse_mountinfo(DEBIAN12.splitlines()[0]))


def test_this_host_gets_the_v1_memory_hierarchy_its_mountinfo_names() -> None:
    real = Path("/proc/self/mountinfo").read_text()
    v1 = [
        line.split(" ")[4]
        for line in real.splitlines()
        if " - cgroup " in line and "memory" in line.rsplit(" ", 1)[-1].split(",")
    ]
    if not v1:
        pytest.skip("this host has no cgroup v1 memory hierarchy")
    h = cgroups.find_hierarchy()
    assert isinstance(h, cgroups.V1Hierarchy)
    assert h.parent == Path(v1[0])
