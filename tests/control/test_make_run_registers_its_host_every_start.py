"""`make run` started five times in a row, each on a fresh data directory (SQLite and the
filesystem broker made anew, migrations run, then web, worker and beat all writing at once):
the worker registers its host every time, and nothing logs "database is locked".

Before SQLite took its write lock up front (``transaction_mode`` IMMEDIATE), about one start
in four lost the race: the worker's registration read the host table, another process wrote,
and SQLite refused the upgrade to a writer at once (no busy wait is possible there). The
worker logged "could not register host" and the host never appeared.
"""

from __future__ import annotations

import pytest

from tests.fixtures.host import needs_root

from .make_run import LOCKED, make_run

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.timeout(900)]

STARTS = 5


def test_each_fresh_start_registers_the_host(scratch):
    for start in range(STARTS):
        with make_run(scratch / f"start-{start}") as run:
            with run.api(run.token()) as api:
                host = run.wait(
                    lambda: (h := run.host_row(api)) and h["online"] and h,
                    90,
                    f"start {start + 1}: the host {run.host} online in the API",
                )
            assert host["swap_roots"] == [str(run.swap_root)]
            # The worker says it is ready only once registration, settling and the
            # sampler's start are done.
            run.wait(
                lambda: f"swapadmin worker for host {run.host} is ready" in run.output(),
                30,
                "the worker's ready line",
            )
            output = run.output()
            assert LOCKED not in output, f"start {start + 1}:\n{run.tail()}"
            assert "could not start the agent" not in output, run.tail()
