"""`make run` on a machine whose host name another machine registered: the worker refuses at
once (EX_WRONG_MACHINE) instead of waiting to register, and runall does not start it again
and again (it would only be refused again): it says why, stops the web server and beat, and
exits with the worker's status.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from swapadmin.core.worker import EX_WRONG_MACHINE
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_until

from .make_run import Run, make_run, processes_with

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.timeout(300)]

ANOTHER_MACHINE = "0123456789abcdef0123456789abcdef"


def registered_by_another_machine(run: Run) -> None:
    assert run.manage("migrate", "--verbosity", "0").returncode == 0
    made = run.manage(
        "shell", "-c",
        "from swapadmin.core.models import Host; "
        f"Host.objects.create(name={run.host!r}, machine_id={ANOTHER_MACHINE!r})",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr


def test_runall_stops_with_the_refusing_worker(scratch: Path) -> None:
    with make_run(scratch / "run", prepare=registered_by_another_machine, ready=False) as run:
        wait_until(lambda: run.proc.poll() is not None, 120, "runall to exit")
        output = run.output()
        assert run.proc.returncode == EX_WRONG_MACHINE, run.tail()
        assert f"registered by the machine with id {ANOTHER_MACHINE}" in output
        assert "runall: worker refused its configuration" in output
        assert "started again" not in output and "cannot register host" not in output
        marker = f"SWAPADMIN_HOST={run.host}"
        wait_until(lambda: processes_with(marker) == [], 20, "web and beat to be stopped")
