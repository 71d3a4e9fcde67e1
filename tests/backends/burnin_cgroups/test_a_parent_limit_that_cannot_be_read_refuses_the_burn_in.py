"""A burn-in keeps its memory limit within half of what the limits of the cgroups it runs
under leave. That check read a limit it could not read, or could not parse, as no limit at
all, and stopped looking at the first cgroup without a limit file, whatever was above it:
the check was skipped. Now only what the kernel writes for no limit means none (v2's
``max``, v1's PAGE_COUNTER_MAX pages, the v2 root that has no memory.max); anything else
that cannot be read refuses the burn-in, naming the file, before anything is made.

v1 on the real kernel, in a memory cgroup of the test's own: a cgroup's files are always
there and numeric, so what a broken read would return is bind-mounted over one of them
(and unmounted again). This VM's kernel offers no memory controller on v2, so v2's walk is
read over a tree laid out as the kernel lays out cgroup2, and over the real v2 root."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import burnin, cgroups
from backends.errors import KernelError
from backends.plugins.file import FileBackend
from tests.backends.burnin_cgroups.v1_parent import v1_parent
from tests.fixtures.host import needs_root, run

MiB = 1 << 20


@contextlib.contextmanager
def reads_as(target: Path, text: str, scratch: Path) -> Iterator[None]:
    """``target`` (a cgroup's file) reads as ``text`` until the block ends."""
    source = scratch / f"{target.name}.over"
    source.write_text(text)
    run("mount", "--bind", str(source), str(target))
    try:
        yield
    finally:
        run("umount", str(target))


@needs_root
@pytest.mark.parametrize(
    ("name", "text", "said"),
    [
        ("memory.limit_in_bytes", "garbage\n", "holds 'garbage', not a number of bytes"),
        ("memory.limit_in_bytes", "", "holds '', not a number of bytes"),
        ("memory.usage_in_bytes", "n/a\n", "holds 'n/a', not a number of bytes"),
    ],
)
def test_v1_a_limit_or_usage_that_cannot_be_read_refuses_it(
    active: FileBackend, scratch: Path, name: str, text: str, said: str
) -> None:
    with v1_parent(limit=64 * MiB) as parent:
        hierarchy = cgroups.V1Hierarchy(parent)
        with reads_as(parent / name, text, scratch), pytest.raises(KernelError) as refused:
            burnin.burn_in(
                active, memory_limit_bytes=48 * MiB, hog_bytes=96 * MiB, seconds=1,
                hierarchy=hierarchy,
            )  # fmt: skip
        assert f"cannot tell how much memory cgroup {parent} leaves" in str(refused.value)
        assert f"{parent / name} {said}" in str(refused.value)
        assert not [p for p in parent.iterdir() if p.is_dir()], "nothing was made"


@needs_root
def test_v1_the_kernels_no_limit_is_no_limit() -> None:
    with v1_parent() as parent:  # no limit written: the kernel shows PAGE_COUNTER_MAX pages
        assert int((parent / "memory.limit_in_bytes").read_text()) > 1 << 62
        assert cgroups.V1Hierarchy(parent).headroom() is None
    with v1_parent(limit=64 * MiB) as parent:
        assert cgroups.V1Hierarchy(parent).headroom() == 64 * MiB


@needs_root
def test_v2_the_real_root_and_a_child_without_memory_leave_no_limit(
    cgroup2_mount: Path, cgroup2_parent: Path
) -> None:
    assert not (cgroup2_mount / "memory.max").exists()
    assert cgroups.V2Hierarchy(cgroup2_mount).headroom() is None
    # With the memory controller on v2, the child has memory.max "max"; without it (this
    # VM), none, and its charges go to the root: no limit either way.
    assert cgroups.V2Hierarchy(cgroup2_parent).headroom() is None


def v2_cgroup(path: Path, *, memory: bool = True, root: bool = False, **files: str) -> Path:
    """A directory laid out as cgroup2 shows a cgroup: cgroup.controllers (with memory when
    its parent gives it), cgroup.type except on the root, and ``files`` (memory_max=...)."""
    path.mkdir()
    (path / "cgroup.controllers").write_text("cpu io memory pids\n" if memory else "cpu io\n")
    if not root:
        (path / "cgroup.type").write_text("domain\n")
    for name, text in files.items():
        (path / name.replace("_", ".")).write_text(text)
    return path


@pytest.fixture
def v2_root(tmp_path: Path) -> Path:
    return v2_cgroup(tmp_path / "cgroup2", root=True)


def test_v2_the_root_without_memory_max_is_no_limit(v2_root: Path) -> None:
    assert cgroups.V2Hierarchy(v2_root).headroom() is None


def test_v2_max_is_no_limit_and_a_limit_above_still_counts(v2_root: Path) -> None:
    slice_ = v2_cgroup(v2_root / "box.slice", memory_max=f"{1024 * MiB}\n",
                       memory_current=f"{100 * MiB}\n")  # fmt: skip
    service = v2_cgroup(slice_ / "worker.service", memory_max="max\n",
                        memory_current=f"{10 * MiB}\n")  # fmt: skip
    assert cgroups.V2Hierarchy(service).headroom() == 924 * MiB


def test_v2_a_child_without_the_memory_controller_is_charged_to_its_parent(
    v2_root: Path,
) -> None:
    # Its parent does not give it memory, so it has no memory.max: the walk used to stop
    # there and see no limit at all.
    slice_ = v2_cgroup(v2_root / "box.slice", memory_max=f"{256 * MiB}\n",
                       memory_current=f"{200 * MiB}\n")  # fmt: skip
    bare = v2_cgroup(slice_ / "bare", memory=False)
    assert cgroups.V2Hierarchy(bare).headroom() == 56 * MiB


@pytest.mark.parametrize(
    ("files", "said"),
    [
        ({"memory_current": "0\n"}, "memory.max does not exist"),
        ({"memory_max": "lots\n", "memory_current": "0\n"}, "memory.max holds 'lots'"),
        ({"memory_max": f"{64 * MiB}\n"}, "memory.current does not exist"),
        ({"memory_max": f"{64 * MiB}\n", "memory_current": "\n"}, "memory.current holds ''"),
    ],
)
def test_v2_a_limit_that_cannot_be_read_is_an_error(
    v2_root: Path, files: dict[str, str], said: str
) -> None:
    box = v2_cgroup(v2_root / "box", **files)
    with pytest.raises(KernelError, match=re.escape(f"leaves to a burn-in: {box}/{said}")):
        cgroups.V2Hierarchy(box).headroom()


def test_a_directory_that_is_no_cgroup_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KernelError, match="cgroup.controllers does not exist"):
        cgroups.V2Hierarchy(tmp_path).headroom()
    with pytest.raises(KernelError, match="cgroup.procs does not exist"):
        cgroups.V1Hierarchy(tmp_path).headroom()
