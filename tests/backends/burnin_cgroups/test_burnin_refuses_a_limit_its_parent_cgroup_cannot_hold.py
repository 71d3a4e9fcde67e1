"""The RAM check weighs the burn-in's limit against the memory the cgroup it runs under
still leaves, not only the host's MemAvailable: inside a container (or a systemd slice with
MemoryMax) the host may have gigabytes free while the container has little, and a hog
pushed to that limit would make the kernel reclaim from, or OOM-kill, whatever else runs
there. Refused before anything is made. A real v1 memory cgroup of the test's own with a
limit; v2 reads memory.max and memory.current the same way."""

from __future__ import annotations

import pytest

from backends import burnin, cgroups
from backends.errors import UnsafeError
from backends.plugins.file import FileBackend
from tests.backends.burnin_cgroups.v1_parent import v1_parent
from tests.fixtures.host import needs_root

pytestmark = needs_root

MiB = 1 << 20


def test_a_limit_above_half_of_what_the_parent_leaves_is_refused(active: FileBackend) -> None:
    with v1_parent(limit=64 * MiB) as parent:
        hierarchy = cgroups.V1Hierarchy(parent)
        assert hierarchy.headroom() == 64 * MiB  # nothing runs in it yet

        with pytest.raises(UnsafeError, match="64 MiB the memory limits of the cgroup") as e:
            burnin.burn_in(
                active,
                memory_limit_bytes=48 * MiB,
                hog_bytes=96 * MiB,
                seconds=1,
                hierarchy=hierarchy,
            )

        assert e.value.field == "memory_limit_bytes"
        assert not [p for p in parent.iterdir() if p.is_dir()], "nothing was made"


def test_a_limit_within_it_runs(active: FileBackend) -> None:
    with v1_parent(limit=128 * MiB) as parent:
        result = burnin.burn_in(
            active,
            memory_limit_bytes=32 * MiB,
            hog_bytes=64 * MiB,
            seconds=1,
            hierarchy=cgroups.V1Hierarchy(parent),
        )
        assert result.passes >= 1 and result.oom_kills == 0
