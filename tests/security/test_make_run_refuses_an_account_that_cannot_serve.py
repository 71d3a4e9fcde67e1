"""`make run` asked to run web and beat as an account (SWAPADMIN_RUN_AS) that does not exist,
or that cannot reach the data directory, refuses to start and says why and what to do: it
neither falls back to root nor starts a web server that would fail on every request, and
it keeps the admin's password (shown once) for the start that serves."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from swapadmin.core.runas import Account
from tests.control.make_run import Run, make_run, processes_with
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_until

from .accounts import passable_dir, python_for, system_account

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture
def web_account() -> Iterator[Account]:
    with system_account() as made:
        yield made


def refused(run: Run) -> str:
    wait_until(lambda: run.proc.poll() is not None, 120, "runall to exit")
    output = run.output()
    assert run.proc.returncode == 1, output
    assert "starting web" not in output, output
    assert "password:" not in output  # printed once: on the start that serves, not this one
    wait_until(lambda: processes_with(f"SWAPADMIN_HOST={run.host}") == [], 20, "nothing left")
    return output


def test_an_account_that_does_not_exist(scratch: Path) -> None:
    with make_run(scratch / "run", ready=False, SWAPADMIN_RUN_AS="no-such-account") as run:
        output = refused(run)
    assert "SWAPADMIN_RUN_AS=no-such-account: no such user on this machine" in output


def test_an_account_that_cannot_reach_the_data_directory(
    scratch: Path, web_account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its Python it can run; the data directory is under the tests' base, root's alone.
    with passable_dir() as where:
        monkeypatch.setattr(sys, "executable", python_for(web_account, where))
        env = {"SWAPADMIN_RUN_AS": web_account.name}
        with make_run(scratch / "run", ready=False, **env) as run:
            output = refused(run)
    assert f"web and beat cannot run as {web_account.name}" in output, output
    assert f"Permission denied: '{run.data_dir}'" in output, output
    assert "SWAPADMIN_RUN_AS=root" in output  # what to do, if this machine is no one else's
