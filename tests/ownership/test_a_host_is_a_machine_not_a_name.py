"""A host is the machine whose worker registered it (its /etc/machine-id), not a hostname.
A worker on another machine that calls itself by an existing host's name (a cloned VM, two
machines sharing a name) refuses to start, says why, and takes none of that host's jobs;
a job row handed to a worker of the wrong machine anyway is refused and left queued.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from swapadmin.core import machines, runner, services
from swapadmin.core.models import Host, Job
from swapadmin.core.services import Actor
from swapadmin.core.worker import EX_WRONG_MACHINE
from tests.fixtures.host import needs_root
from tests.ownership.conftest import MiB

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ANOTHER_MACHINE = "0123456789abcdef0123456789abcdef"


def test_the_first_worker_records_its_machine(worker):
    host = worker.host
    assert host.machine_id == machines.machine_id() != ""
    assert host.boot_id == Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def test_a_worker_on_another_machine_is_refused(start_worker, alice):
    first = start_worker()
    first.stop()
    Host.objects.filter(name=first.name).update(machine_id=ANOTHER_MACHINE)
    job = services.create_backend(
        host=Host.objects.get(name=first.name), kind="file", name="s0", size_bytes=16 * MiB,
        actor=Actor(alice, Job.Via.API), params={"path": str(first.swap_root / "s0")},
    )  # fmt: skip

    clone = start_worker(name=first.name, wait=False)
    code = clone.wait(60)
    assert code == EX_WRONG_MACHINE, clone.log()[-3000:]
    assert f"registered by the machine with id {ANOTHER_MACHINE}" in clone.log()
    assert machines.machine_id() in clone.log()
    host = Host.objects.get(name=first.name)
    assert host.machine_id == ANOTHER_MACHINE
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED and job.worker == ""
    assert not (first.swap_root / "s0").exists()


def test_a_job_for_another_machines_host_is_left_queued(host_row, settings, tmp_path):
    settings.SWAPADMIN_HOST = host_row.name
    settings.DATA_DIR = tmp_path
    Host.objects.filter(pk=host_row.pk).update(machine_id=ANOTHER_MACHINE)
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host_row)
    outcome = runner.run(job.pk, worker="here")
    assert outcome.state == "wrong-machine"
    assert ANOTHER_MACHINE in outcome.detail
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED and job.started_at is None


def test_an_admin_lets_a_replacement_machine_take_the_name(host_row):
    Host.objects.filter(pk=host_row.pk).update(machine_id=ANOTHER_MACHINE)
    out = io.StringIO()
    call_command("forget-machine", host_row.name, stdout=out)
    assert ANOTHER_MACHINE in out.getvalue()
    host_row.refresh_from_db()
    assert host_row.machine_id == ""
    machines.check_machine(host_row)  # no longer anyone's: the next worker registers
    event = host_row.auditevent_set.get(action="forget-machine")
    assert event.detail == {"machine_id": ANOTHER_MACHINE}
    with pytest.raises(CommandError, match="no host named 'nowhere'"):
        call_command("forget-machine", "nowhere")
