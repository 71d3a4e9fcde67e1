"""A host is the machine whose id its worker registered. A worker that cannot read that id
(its machine-id file missing, empty, not an id, or a directory: what docker bind-mounts at
/etc/machine-id when the host has no such file) cannot say which machine it is on. It used
to read that as the id "": it registered its host as no machine's, so that any machine
calling itself by that name passed for it from then on, and it acted as a host no machine
had registered yet. Now the read raises, naming the file and what to do, and the worker
registers nothing, runs no job and no round of checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from swapadmin.core import machines, signing, tasks
from swapadmin.core.machines import MachineIdError
from swapadmin.core.models import Host, Job
from swapadmin.core.worker import EX_WRONG_MACHINE, register_host
from swapadmin.health.tasks import check_host
from tests.fixtures.host import needs_root

UNREADABLE = ["missing", "directory", "empty", "uninitialized"]


def _id_file(where: Path, how: str) -> tuple[Path, str]:
    """A machine-id file that holds no id, made ``how``; and what the error says of it."""
    path = where / f"machine-id-{how}"
    if how == "directory":
        path.mkdir()
        return path, "is a directory"
    if how == "empty":
        path.write_text("\n")
        return path, "is empty"
    if how == "uninitialized":
        path.write_text("uninitialized\n")  # systemd's first boot on a read-only /etc
        return path, "holds 'uninitialized', not a machine id"
    return path, "does not exist"


@pytest.fixture(params=UNREADABLE)
def no_id(request: pytest.FixtureRequest, settings, tmp_path: Path) -> Iterator[str]:
    """This process's machine-id file made unreadable one way; the error's words for it."""
    path, said = _id_file(tmp_path, request.param)
    settings.SWAPADMIN_MACHINE_ID_FILE = path
    yield said


def test_the_read_raises_naming_the_file_and_what_to_do(no_id: str, settings) -> None:
    with pytest.raises(MachineIdError) as raised:
        machines.machine_id()
    message = str(raised.value)
    assert f"{settings.SWAPADMIN_MACHINE_ID_FILE} {no_id}" in message
    assert "systemd-machine-id-setup" in message
    assert "/etc/machine-id" in message and "docker compose" in message


def test_a_real_machine_id_is_read(settings, tmp_path: Path) -> None:
    path = tmp_path / "machine-id"
    path.write_text("0123456789abcdef0123456789abcdef\n")
    settings.SWAPADMIN_MACHINE_ID_FILE = path
    assert machines.machine_id() == "0123456789abcdef0123456789abcdef"


@pytest.mark.django_db
def test_no_host_is_registered(no_id: str, settings) -> None:
    settings.SWAPADMIN_HOST = "nameless-machine"
    with pytest.raises(MachineIdError, match=no_id):
        register_host()
    assert not Host.objects.filter(name="nameless-machine").exists()


@pytest.mark.django_db
def test_a_host_no_machine_registered_stays_unregistered(no_id: str, settings) -> None:
    # An enrolled host whose worker has not started yet, one an admin let go with
    # forget-machine, or one the old read registered as "".
    host = Host.objects.create(name="unclaimed", kernel_release="test", machine_id="")
    settings.SWAPADMIN_HOST = host.name
    with pytest.raises(MachineIdError, match=no_id):
        register_host()
    host.refresh_from_db()
    assert host.machine_id == "" and host.last_heartbeat is None


@pytest.mark.django_db
@pytest.mark.usefixtures("on_testhost")
def test_its_job_is_left_queued_saying_why(no_id: str, host_row: Host) -> None:
    assert host_row.machine_id == ""  # no machine's yet: the row any machine used to pass
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host_row, params={})
    signing.sign_job(job.pk)
    assert tasks.run_job(job.pk) == "wrong-machine"
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED and job.started_at is None, job.log
    assert no_id in job.waiting_reason
    assert Host.objects.get(pk=host_row.pk).machine_id == ""


@pytest.mark.django_db
@pytest.mark.usefixtures("on_testhost")
def test_its_round_of_checks_is_refused(no_id: str, host_row: Host) -> None:
    assert check_host(host_row.pk) == "wrong-machine"


@needs_root
@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_worker_exits_as_docker_compose_left_it(start_worker, scratch: Path) -> None:
    # docker-compose.yml bind-mounts /etc/machine-id; on a host without one, docker makes
    # an empty directory there, and the worker reads a directory.
    path, said = _id_file(scratch, "directory")
    since = timezone.now()
    w = start_worker(env={"SWAPADMIN_MACHINE_ID_FILE": str(path)}, wait=False)
    # Before, it registered its host as no machine's and ran on: this wait timed out.
    assert w.wait(60) == EX_WRONG_MACHINE, w.log()[-3000:]
    assert f"refusing to start: this machine's id file {path} {said}" in w.log()
    assert "systemd-machine-id-setup" in w.log()
    assert not Host.objects.filter(name=w.name).exists()
    assert not Host.objects.filter(machine_id="", last_heartbeat__gt=since).exists()
