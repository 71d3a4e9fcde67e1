"""A burn-in has the kernel write process memory to the area: refused while a loop device is
attached over its file, another name through which anyone may read those pages, mount them or swap
on them. Asked at once, again under the host's memory lock before the hog starts, after a wait that
may be long, and at each of the hog's samples, so one attached while the hog runs stops it there
(240/4: before, the hog ran its time). Before, the burn-in asked only the proof that the area is
this backend's, which no longer looks for other names, and swapped its pages out to the file a loop
device reached (review 239/1)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from backends import burnin, cgroups, kernel
from swapadmin.core import handlers
from swapadmin.core.models import Backend, Job
from tests.control.test_a_loop_device_over_the_file_before_the_job_leaves_the_area_on import (
    active_file,
    kept_in_fstab,
)
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]

__all__ = ["active_file", "kept_in_fstab"]  # fixtures this module uses

#: A short burn-in: refused, it never starts; let through, it would swap for a second.
BURN = {"seconds": 1, "memory_limit_bytes": 16 * MiB, "hog_bytes": 24 * MiB}


def _refused_naming(job: Job, dev: str, path: str) -> None:
    assert job.state == Job.State.FAILED, job.log
    assert f"{path} is attached to {dev}" in job.error, job.error
    assert kernel.find_area(path) is not None  # left on, as it was


@contextlib.contextmanager
def _calls_of(owner: Any, name: str) -> Iterator[list[Any]]:
    """Each call of ``owner.name`` while the block runs, recorded and passed on to the
    function that was there before (taken before the patch, so never the recorder itself:
    review 243/2)."""
    calls: list[Any] = []
    real = getattr(owner, name)

    def recorded(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(owner, name, recorded)
        yield calls


def test_one_attached_before_the_job_refuses_it_before_the_lock(active_file: Backend) -> None:
    path = active_file.params["path"]
    with (
        attached(path) as dev,
        _calls_of(handlers, "host_memory") as locks,
        _calls_of(handlers.burnin, "burn_in") as hogs,
    ):
        _refused_naming(run(job_for(active_file, Job.Kind.BURN_IN, **BURN)), dev, path)
    assert locks == [] and hogs == []  # refused at once, not after the wait for the lock


def test_one_attached_while_it_waited_for_the_lock_is_found_under_it(
    active_file: Backend,
) -> None:
    """The loop device is attached as the job takes the host's memory lock, after the first
    look found none: the look under the lock refuses the burn-in before the hog starts."""
    path = active_file.params["path"]
    taken = handlers.host_memory
    devices: list[str] = []

    # Both undone before the fixture's destroy, whose swapoff takes the lock too.
    with contextlib.ExitStack() as loops, pytest.MonkeyPatch.context() as mp:

        @contextlib.contextmanager
        def attached_as_the_lock_is_taken(ctx: Any, doing: str) -> Iterator[None]:
            with taken(ctx, doing):
                devices.append(loops.enter_context(attached(path)))
                yield

        mp.setattr(handlers, "host_memory", attached_as_the_lock_is_taken)
        with _calls_of(handlers.burnin, "burn_in") as hogs:
            job = run(job_for(active_file, Job.Kind.BURN_IN, **BURN))
        assert len(devices) == 1, job.log
        _refused_naming(job, devices[0], path)
        assert hogs == []


@contextlib.contextmanager
def _when_the_hog_runs(do: Callable[[], None]) -> Iterator[list[Any]]:
    """``do()`` once the burn-in's hog has started, which no look before it can see; yields
    the hogs started, each checked on exit to be reaped with no cgroup of theirs left."""
    real_hog = handlers.burnin._hog
    hogs: list[Any] = []

    @contextlib.contextmanager
    def then_do(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with real_hog(*args, **kwargs) as child:
            hogs.append(child)
            do()
            yield child

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(handlers.burnin, "_hog", then_do)
        yield hogs
    hierarchy = cgroups.find_hierarchy()
    assert [h.returncode is not None for h in hogs] == [True]  # killed and reaped
    assert list(hierarchy.parent.glob(f"{burnin.CGROUP_PREFIX}*")) == []


#: Asked to run for a minute: stopped at its first sample, the job ends long before.
LONG = {**BURN, "seconds": 60}


def test_one_attached_while_the_hog_runs_stops_it(active_file: Backend) -> None:
    """The loop device is attached once the hog has started: the look at the hog's next
    sample refuses, and the hog is stopped there, not left to run its minute."""
    path = active_file.params["path"]
    with contextlib.ExitStack() as loops:
        devices: list[str] = []
        with _when_the_hog_runs(lambda: devices.append(loops.enter_context(attached(path)))):
            job = run(job_for(active_file, Job.Kind.BURN_IN, **LONG))
        assert len(devices) == 1, job.log
        _refused_naming(job, devices[0], path)
        assert "The burn-in stopped its hog here." in job.error, job.error


def test_the_area_swapped_off_while_the_hog_runs_stops_it(active_file: Backend) -> None:
    """The area swapped off by hand once the hog has started: the kernel no longer swaps to
    it, so what the burn-in would measure is not this area (243/1). The hog fits under its
    limit here, so the swapoff moves no page of it and kills nothing."""
    path = active_file.params["path"]
    fits = {**LONG, "memory_limit_bytes": 32 * MiB, "hog_bytes": 8 * MiB}
    with _when_the_hog_runs(lambda: _swapoff_by_hand(path)):
        job = run(job_for(active_file, Job.Kind.BURN_IN, **fits))
    assert job.state == Job.State.FAILED, job.log
    assert "is this backend's, but it is not active in /proc/swaps" in job.error, job.error
    assert "The burn-in stopped its hog here." in job.error, job.error
    assert kernel.find_area(path) is None


def _swapoff_by_hand(path: str) -> None:
    subprocess.run(["swapoff", path], check=True)
