"""Where mountinfo shows a hierarchy twice, once whole and once as a mount of one of its
cgroups (a container's cgroup bind-mounted into its rootfs, a cgroup2 mount made in another
cgroup namespace), the burn-in's cgroup is made in the whole hierarchy: never inside a
cgroup someone else made, under that cgroup's limits. Where only such a mount is there
(inside the container itself), it is used."""

from __future__ import annotations

from pathlib import Path

from backends import cgroups

# proc(5) mountinfo as a host running an LXC container shows it (written in that format, not
# captured): the container's cgroups are mounted into its rootfs, here listed first.
V2_HOST_WITH_A_CONTAINER = """\
301 29 0:24 /lxc.payload.web /var/lib/lxc/web/rootfs/sys/fs/cgroup rw,relatime - cgroup2 \
cgroup2 rw,nsdelegate
26 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 \
rw,nsdelegate,memory_recursiveprot
"""
V1_HOST_WITH_A_CONTAINER = """\
302 29 0:36 /lxc.payload.web /var/lib/lxc/web/rootfs/sys/fs/cgroup/memory rw - cgroup \
cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:36 / /sys/fs/cgroup/memory\\040here rw,relatime - cgroup cgroup rw,cpu,memory
"""
INSIDE_THE_CONTAINER = """\
301 290 0:24 /lxc.payload.web /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""


def test_the_whole_v2_hierarchy_is_taken_over_a_containers_cgroup() -> None:
    h = cgroups.find_hierarchy(cgroups.parse_mountinfo(V2_HOST_WITH_A_CONTAINER))
    assert isinstance(h, cgroups.V2Hierarchy)
    assert h.parent == Path("/sys/fs/cgroup")


def test_the_whole_v1_memory_hierarchy_is_taken_over_a_containers_cgroup() -> None:
    h = cgroups.find_hierarchy(cgroups.parse_mountinfo(V1_HOST_WITH_A_CONTAINER))
    assert isinstance(h, cgroups.V1Hierarchy)
    assert h.parent == Path("/sys/fs/cgroup/memory here")


def test_inside_a_container_its_own_cgroup_is_used() -> None:
    mounts = cgroups.parse_mountinfo(INSIDE_THE_CONTAINER)
    assert [m.root for m in mounts] == ["/lxc.payload.web"]
    assert cgroups.find_hierarchy(mounts).parent == Path("/sys/fs/cgroup")
