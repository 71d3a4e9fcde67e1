"""A host that a machine registered is that machine's. A worker that cannot say which machine
it is on (its machine-id file is missing or empty: a broken image, a container without
/etc/machine-id) cannot prove it is that machine either: it is refused as that host, just
as a worker with another machine's id is, and takes none of its jobs."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone

from swapadmin.core import machines, runner, services
from swapadmin.core.models import Host, Job
from swapadmin.core.services import Actor
from swapadmin.core.worker import EX_WRONG_MACHINE
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_until
from tests.ownership.conftest import MiB

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _machine_id_file(scratch: Path, how: str) -> Path:
    path = scratch / f"machine-id-{how}"
    if how == "empty":
        path.write_text("\n")
    return path


@pytest.mark.parametrize("how", ["missing", "empty"])
def test_the_worker_refuses_to_start_as_the_host(start_worker, alice, scratch, how):
    first = start_worker()
    first.stop()
    registered = Host.objects.get(name=first.name).machine_id
    assert registered == machines.machine_id() != ""
    job = services.create_backend(
        host=Host.objects.get(name=first.name), kind="file", name="s0", size_bytes=16 * MiB,
        actor=Actor(alice, Job.Via.API), params={"path": str(first.swap_root / "s0")},
    )  # fmt: skip

    since = timezone.now()
    unknown = start_worker(
        name=first.name,
        env={"SWAPADMIN_MACHINE_ID_FILE": str(_machine_id_file(scratch, how))},
        wait=False,
    )
    # Either it exits, or it registers (a heartbeat newer than its start): whichever first.
    wait_until(
        lambda: not unknown.alive()
        or Host.objects.filter(name=first.name, last_heartbeat__gt=since).exists(),
        60, "the worker to exit or to register",
    )  # fmt: skip
    assert not unknown.alive(), f"it started as {first.name}:\n{unknown.log()[-3000:]}"
    assert unknown.wait(10) == EX_WRONG_MACHINE, unknown.log()[-3000:]
    assert f"registered by the machine with id {registered}" in unknown.log()
    host = Host.objects.get(name=first.name)
    assert host.machine_id == registered and not host.last_heartbeat > since
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED and job.worker == ""
    assert not (first.swap_root / "s0").exists()


@pytest.mark.parametrize("how", ["missing", "empty"])
def test_a_job_is_left_queued(host_row, settings, scratch, tmp_path, how):
    settings.SWAPADMIN_HOST = host_row.name
    settings.DATA_DIR = tmp_path
    Host.objects.filter(pk=host_row.pk).update(machine_id=machines.machine_id())
    settings.SWAPADMIN_MACHINE_ID_FILE = _machine_id_file(scratch, how)
    with pytest.raises(machines.MachineIdError):
        machines.machine_id()
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host_row)
    outcome = runner.run(job.pk, worker="here")
    assert outcome.state == "wrong-machine", outcome
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED and job.started_at is None
