"""Under `make run`, the worker killed with SIGKILL is started again by runall, while the web
server and beat run on untouched; the overview and the host page say the worker is down
while it is, and the host is back online (and runs a job) once the new worker registers.

runall notices a dead child within a fraction of a second and starts it again after a
second: faster than a heartbeat can go stale. So the test holds runall itself (SIGSTOP, as
the fault tests pause a worker) between the kill and the restart, waits for the pages to
say the worker is down, then lets runall go on (SIGCONT). Before, the first child to exit
stopped all of `make run`.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

from tests.fixtures.host import needs_root

from .make_run import LOCKED, make_run

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.timeout(600)]

HTMX = {"HX-Request": "true", "HX-Target": "live"}


def host_row(html: str, host: str) -> str:
    """The overview's table row of ``host``."""
    found = re.search(rf'<tr data-host="{re.escape(host)}">.*?</tr>', html, re.S)
    assert found, html[-3000:]
    return found.group(0)


def test_a_killed_worker_is_started_again_and_shown_down_meanwhile(scratch: Path) -> None:
    env = {"SWAPADMIN_HEARTBEAT_SECONDS": "1", "SWAPADMIN_OFFLINE_AFTER_SECONDS": "4"}
    with make_run(scratch / "run", **env) as run, run.api(run.token()) as api:
        host = run.wait(
            lambda: (h := run.host_row(api)) and h["online"] and h, 90, "the host online"
        )
        page = f"hosts/{host['id']}/"
        web, beat, worker = run.child("web"), run.child("beat"), run.child("worker")
        assert web and beat and worker, run.tail()
        with run.browser() as browser:
            assert "online" in host_row(browser.get("").text, run.host)

            os.kill(run.proc.pid, signal.SIGSTOP)
            try:
                os.kill(worker, signal.SIGKILL)
                overview = run.wait(
                    lambda: 'data-worker="down"' in (row := host_row(
                        browser.get("", headers=HTMX).text, run.host
                    )) and row,
                    60, "the overview to say the worker is down",
                )  # fmt: skip
                assert "offline" in overview and "worker down" in overview, overview
                detail = browser.get(page).text
                assert "worker down" in detail and "wait until it is back" in detail
                assert "worker offline" in detail  # the host's alert
                assert api.get(f"/hosts/{host['id']}/").json()["online"] is False
                down_since = api.get(f"/hosts/{host['id']}/").json()["last_heartbeat"]
            finally:
                os.kill(run.proc.pid, signal.SIGCONT)

            run.wait(lambda: "runall: worker was killed by SIGKILL" in run.output(), 30,
                     "runall to say the worker died")  # fmt: skip
            again = run.wait(
                lambda: (pid := run.child("worker")) and pid != worker and pid,
                30,
                "a new worker",
            )
            back = run.wait(
                lambda: (h := api.get(f"/hosts/{host['id']}/").json())["online"]
                and h["last_heartbeat"] > down_since and h,
                90, "the host back online",
            )  # fmt: skip
            assert back["name"] == run.host
            run.wait(
                lambda: 'data-worker="down"' not in host_row(
                    browser.get("", headers=HTMX).text, run.host
                ),
                30, "the overview to say the worker is up",
            )  # fmt: skip

        # The new worker serves the host's queue.
        path = run.swap_root / "after-restart"
        made = api.post("/backends/", json={
            "host": host["id"], "kind": "file", "name": "after-restart",
            "size_bytes": 16 << 20, "params": {"path": str(path)},
        })  # fmt: skip
        assert made.status_code == 202, made.text
        job = run.wait(
            lambda: (j := api.get(f"/jobs/{made.json()['id']}/").json())["finished_at"] and j,
            120, "the provision job to end",
        )  # fmt: skip
        assert job["state"] == "succeeded", job
        assert path.stat().st_size == 16 << 20

        # Nothing else was restarted, and runall is still running.
        assert (run.child("web"), run.child("beat"), run.child("worker")) == (web, beat, again), (
            run.tail()
        )
        assert run.proc.poll() is None
        output = run.output()
    assert output.count("started again") == 1, run.tail()
    assert LOCKED not in output, run.tail()
