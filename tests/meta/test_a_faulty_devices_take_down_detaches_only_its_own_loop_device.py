"""A faulty device's take-down detaches its loop device only while that is still the one
made over the served file (review 197/10). Detached already by the test, the name may be
another's loop device by then (``losetup --find`` hands out the lowest free one), and the
take-down detached that one, by its name.

Another run taking the name the moment the take-down frees it neither loses its device
nor holds the take-down up (review 207/9): the take-down waited for the name's backing
file to go, which the other run's binding kept there, for its whole timeout (5 s)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import faulty, host
from tests.fixtures.faulty import faulty_device
from tests.fixtures.host import LoopMade, attach_loop, needs_root, release_loop, run, still_bound

pytestmark = pytest.mark.root

SIZE = 16 << 20


def _wait_detached(dev: str) -> None:
    backing = Path("/sys/block", Path(dev).name, "loop", "backing_file")
    deadline = time.monotonic() + 5.0
    while backing.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not backing.exists(), f"{dev} stayed attached after losetup -d"


def _free(dev: str, seconds: float) -> bool:
    backing = Path("/sys/block", Path(dev).name, "loop", "backing_file")
    deadline = time.monotonic() + seconds
    while backing.exists():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _other_file(scratch: Path) -> Path:
    other = scratch / "other.img"
    with open(other, "wb") as f:
        f.truncate(SIZE)
    return other


@needs_root
def test_a_loop_device_the_test_detached_and_another_took_is_left(scratch: Path) -> None:
    other = _other_file(scratch)
    taken: LoopMade | None = None
    try:
        with faulty_device(scratch, SIZE, []) as dev:
            run("losetup", "-d", dev)
            _wait_detached(dev)
            taken = attach_loop(other, at=dev)  # another's, at the same name
        assert still_bound(taken), f"{dev}, another's by then, was detached"
    finally:
        if taken is not None:
            release_loop(taken)


@needs_root
def test_a_name_taken_the_moment_it_is_freed_is_left_and_holds_nothing_up(
    scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run takes the name right after the detach: after ``losetup -d`` by name
    (before the fix), or once the descriptor holding it is closed, at the first look at
    whether it is gone (after)."""
    other = _other_file(scratch)
    taken: list[LoopMade] = []

    def take(dev: str) -> None:
        if taken:
            return
        if _free(dev, 10.0):  # the moment it is: a deadline, not a pause
            with contextlib.suppress(subprocess.CalledProcessError):  # taken meanwhile
                taken.append(attach_loop(other, at=dev))
                return
        taken.append(attach_loop(other))

    real_run, real_still_bound = faulty.run, host.still_bound

    def run(*argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        done = real_run(*argv, **kw)
        if argv[:2] == ("losetup", "-d"):
            take(argv[2])
        return done

    looks: list[bool] = []

    def still_bound(made: LoopMade) -> bool:
        take(made.dev)
        looks.append(real_still_bound(made))
        return looks[-1]

    try:
        with faulty_device(scratch, SIZE, []) as dev:
            monkeypatch.setattr(faulty, "run", run)
            monkeypatch.setattr(host, "still_bound", still_bound)
        monkeypatch.undo()
        assert taken and taken[0].dev == dev, f"{dev} was not free after the take-down"
        assert real_still_bound(taken[0]), f"{dev}, another's by then, was detached"
        # The wait ended at its first look, the other run's device not taken for ours.
        assert looks == [False], f"the take-down looked {len(looks)} times: {looks}"
    finally:
        monkeypatch.undo()
        for made in taken:
            release_loop(made)
