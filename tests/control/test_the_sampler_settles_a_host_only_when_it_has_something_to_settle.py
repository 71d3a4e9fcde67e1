"""Each turn of a worker's sampler reads its host's row and settles its dead workers' jobs
(``settle_orphans``). With no running job and no backend flagged to be read again, which is
nearly every turn of every host, that is one query, not five, every few seconds for every
host (bench_fleet_live.py), whatever other hosts have running or flagged. With a job of
another boot, or a backend a sweep flagged elsewhere, the same turn settles it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from swapadmin.core.models import Backend, Host, Job
from swapadmin.core.sampler import host_settled

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]


@pytest.fixture(autouse=True)
def database_long_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # As tests/control/test_sweep_and_settle.py: right after a database start nobody is judged.
    monkeypatch.setattr("swapadmin.core.orphans.database_up_for", lambda: 3600.0)


def a_backend(host, swap_root: Path, **fields) -> Backend:
    return Backend.objects.create(
        host=host, kind="file", name="s", params={"path": str(swap_root / "s")},
        size_bytes=16 << 20, observed_state=Backend.Observed.ACTIVE, **fields,
    )  # fmt: skip


def test_a_host_with_nothing_to_settle_costs_one_query(host_row, swap_root: Path) -> None:
    a_backend(host_row, swap_root)
    Job.objects.create(kind=Job.Kind.SCAN, host=host_row, state=Job.State.SUCCEEDED)
    # Another host's running job and flagged backend are that host's to settle.
    other = Host.objects.create(name="another-host")
    Job.objects.create(kind=Job.Kind.SCAN, host=other, state=Job.State.RUNNING, boot_id="b")
    a_backend(other, swap_root, reread_before_next_job=True)
    with CaptureQueriesContext(connection) as queries:
        host = host_settled(host_row.name)
    assert host.pk == host_row.pk
    assert len(queries) == 1, [q["sql"] for q in queries]


def test_a_job_of_another_boot_is_settled_in_the_same_turn(host_row) -> None:
    job = Job.objects.create(
        kind=Job.Kind.SCAN, host=host_row, state=Job.State.RUNNING, started_at=timezone.now(),
        worker="w@x", boot_id="another-boot",
    )  # fmt: skip
    host_settled(host_row.name)
    job.refresh_from_db()
    assert job.state == Job.State.FAILED
    assert "its host rebooted while it ran" in job.error


def test_a_backend_flagged_elsewhere_is_read_again_in_the_same_turn(
    host_row, swap_root: Path
) -> None:
    backend = a_backend(host_row, swap_root, reread_before_next_job=True)
    host_settled(host_row.name)
    backend.refresh_from_db()
    assert not backend.reread_before_next_job
    assert backend.observed_state == Backend.Observed.ABSENT  # read again: there is no file
