"""What a person at the host does in the middle of a job, for the tests that put it there:
a ``swapon`` of the area by hand, or a swap file of their own put in its place."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.control.test_run_job_directly import MiB

Step = Callable[[Any, Any], None]


def after(action: Callable[[], None], step: Step) -> Step:
    """``step`` (a handler's ``_swapon`` or ``_swapoff``), after ``action``."""

    def action_first(ctx: Any, plugin: Any) -> None:
        action()
        step(ctx, plugin)

    return action_first


def then(step: Step, action: Callable[[], None]) -> Step:
    """``step``, then ``action``."""

    def action_after(ctx: Any, plugin: Any) -> None:
        step(ctx, plugin)
        action()

    return action_after


def swapped_on_by_hand_before(step: Step, path: Path) -> Step:
    """``step``, after a person's ``swapon`` of ``path``."""
    return after(lambda: subprocess.run(["swapon", str(path)], check=True), step)


@contextmanager
def theirs_in_its_place(path: Path) -> Iterator[Callable[[], None]]:
    """Yields ``put``: the file at ``path`` moved aside, and a 4 MiB swap file of someone's
    own made there and swapped on. On the way out only what ``put`` made is taken away, and
    the file goes back to its path, so that the test's destroy finds it."""
    aside = path.with_name(path.name + ".moved")
    put_there: list[bool] = []

    def put() -> None:
        path.rename(aside)
        put_there.append(True)
        path.write_bytes(bytes(4 * MiB))  # no holes: swapon refuses a sparse file
        path.chmod(0o600)
        subprocess.run(["mkswap", str(path)], check=True, capture_output=True)
        subprocess.run(["swapon", str(path)], check=True)

    try:
        yield put
    finally:
        if put_there:
            subprocess.run(["swapoff", str(path)], check=False, capture_output=True)
            path.unlink(missing_ok=True)
            aside.rename(path)
