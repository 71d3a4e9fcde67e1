"""A burn-in is healthy only when its hog finished: exited 0 with its report, after at least
one full pass whose pages the next pass read back and checked. A hog killed by SIGBUS (the
kernel could not read a page back from swap: an I/O error on swap-in) used to leave an
empty report, which read as no corrupt page: with the area used and no OOM kill, that was
the verdict "healthy". Now its end is recorded and named in the verdict. The hog is real,
in a real v1 memory cgroup of the test's own, and killed once the kernel has swapped some
of it to the area; the unit tests below weigh the other ends of a hog directly."""

from __future__ import annotations

import os
import resource
import signal
from collections.abc import Iterator

import pytest

from backends import burnin, cgroups, kernel
from backends.plugins.file import FileBackend
from tests.backends.burnin_cgroups.v1_parent import v1_parent
from tests.fixtures.host import needs_root

MiB = 1 << 20


@pytest.fixture
def no_core_dumps() -> Iterator[None]:
    """The hog inherits this process's limits: a hog killed by SIGBUS dumps no core."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))


@needs_root
@pytest.mark.usefixtures("no_core_dumps")
def test_a_hog_killed_by_sigbus_is_not_healthy_and_the_verdict_says_so(
    active: FileBackend,
) -> None:
    killed: list[int] = []
    with v1_parent() as parent:

        def kill_once_it_swapped(done: int, total: int) -> None:
            # Called while the hog runs: once the area holds some of its pages, the hog is
            # killed as a failed swap-in kills a process.
            area = kernel.find_area(active.swap_path)
            if killed or area is None or area.used_bytes == 0:
                return
            (cg,) = parent.glob(burnin.CGROUP_PREFIX + "*")
            (pid,) = (cg / "cgroup.procs").read_text().split()
            os.kill(int(pid), signal.SIGBUS)
            killed.append(int(pid))

        result = burnin.burn_in(
            active,
            memory_limit_bytes=32 * MiB,
            hog_bytes=96 * MiB,
            seconds=60,  # far longer than the test: only the kill ends it early
            progress=kill_once_it_swapped,
            hierarchy=cgroups.V1Hierarchy(parent),
        )
        assert killed, "the area was never used while the hog ran"
        assert not list(parent.glob(burnin.CGROUP_PREFIX + "*"))
    # What used to make the verdict: the area took pages, no page read back changed (none
    # was reported at all), nothing OOM-killed.
    assert result.peak_used_bytes > 0 and result.corrupt_pages == 0 and result.oom_kills == 0
    assert not result.healthy
    assert result.to_dict()["healthy"] is False
    assert result.hog_returncode == -signal.SIGBUS and not result.hog_overstayed
    assert result.problems[0] == (
        "the hog was killed by SIGBUS (signal 7): a page it touched could not be read back "
        "(an I/O error on swap-in)"
    )
    assert result.to_dict()["problems"] == result.problems
    assert not os.path.exists(f"/proc/{killed[0]}")


def finished(**changes: object) -> burnin.BurnInResult:
    """A burn-in whose hog finished cleanly, as burn_in returns it; ``changes`` applied."""
    fields: dict[str, object] = dict(
        pswpin=12000, pswpout=30000, peak_used_bytes=96 * MiB, seconds=30.0, oom_kills=0,
        failcnt=4100, passes=3, pages_checked=120000, corrupt_pages=0,
        cgroup="/sys/fs/cgroup/memory/swapadmin-burnin-x", cgroup_version=1,
        cgroup_swap_peak_bytes=None, hog_returncode=0, hog_overstayed=False,
    )  # fmt: skip
    return burnin.BurnInResult(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_hog_that_finished_cleanly_is_healthy() -> None:
    assert finished().healthy and finished().problems == []


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"hog_returncode": 1}, "the hog exited with status 1 instead of reporting"),
        ({"hog_returncode": -9}, "the hog was killed by SIGKILL (signal 9)"),
        ({"hog_returncode": None}, "how the hog ended is not known"),
        ({"hog_returncode": -9, "hog_overstayed": True}, "s past its deadline and was killed"),
        ({"passes": 0, "pages_checked": 0}, "the hog checked no page it read back (0 full"),
        ({"passes": 1, "pages_checked": 0}, "the hog checked no page it read back (1 full"),
    ],
)
def test_a_hog_that_did_not_finish_or_check_is_not_healthy(
    changes: dict[str, object], said: str
) -> None:
    result = finished(**changes)
    assert not result.healthy
    assert any(said in p for p in result.problems), result.problems
