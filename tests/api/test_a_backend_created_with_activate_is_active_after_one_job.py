"""``"activate": true`` on create: one request and one job take a store from nothing to an area
in /proc/swaps, through the same checks as a provision followed by an activate, against a
real worker (and gunicorn for the script's view). A provision that refuses the store
activates nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from backends import kernel
from swapadmin.core import services
from swapadmin.core.models import AuditEvent, Backend, Job
from swapadmin.core.services import Actor
from swapadmin.health.tasks import repair_drifted
from tests.api.test_file_backend_over_http import Script, swaps
from tests.fixtures.host import (
    TEST_BASE,
    attached_loops,
    needs_root,
    under,
    zram_ledger,
)
from tests.fixtures.tokens import token_for
from tests.fixtures.workers import WorkerProcess, wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def test_a_script_gets_an_active_area_from_one_request(
    api_server: str, worker: WorkerProcess, alice: User, swap_root: Path
) -> None:
    script = Script(api_server, token_for(alice), worker)
    host = script.call("GET", f"/api/v1/hosts/?name={worker.name}", 200)["results"][0]
    path = swap_root / "now0"

    created = script.call("POST", "/api/v1/backends/", 202, json={
        "host": host["id"], "kind": "file", "name": "now0", "size_bytes": 16 * MiB,
        "priority": 23, "params": {"path": str(path)}, "activate": True,
    })  # fmt: skip
    assert created["kind"] == "provision"
    assert created["params"] == {"force": False, "activate": True}
    done = script.follow(created)
    assert swaps().get(str(path)) == 23
    assert done["progress"] == 100
    assert done["result"]["activate"] == {"already_active": False, "priority": 23}
    assert "swapon" in done["log"], done["log"]
    backend = script.call("GET", f"/api/v1/backends/{created['backend']}/", 200)
    assert (backend["observed_state"], backend["desired_state"]) == ("active", "active")
    # One job: nothing else was queued for the backend.
    jobs = Job.objects.filter(backend__uuid=created["backend"])
    assert list(jobs.values_list("kind", flat=True)) == ["provision"]
    event = AuditEvent.objects.get(action="create", object_uuid=created["backend"])
    assert event.detail["activate"] is True

    script.follow(script.call("DELETE", f"/api/v1/backends/{created['backend']}/", 202))
    assert str(path) not in swaps() and not path.exists()


def test_without_activate_the_area_stays_off(
    api_server: str, worker: WorkerProcess, alice: User, swap_root: Path
) -> None:
    script = Script(api_server, token_for(alice), worker)
    host = script.call("GET", f"/api/v1/hosts/?name={worker.name}", 200)["results"][0]
    path = swap_root / "later0"
    created = script.call("POST", "/api/v1/backends/", 202, json={
        "host": host["id"], "kind": "file", "name": "later0", "size_bytes": 16 * MiB,
        "params": {"path": str(path)},
    })  # fmt: skip
    assert created["params"] == {"force": False}
    done = script.follow(created)
    assert "activate" not in done["result"]
    assert str(path) not in swaps()
    backend = script.call("GET", f"/api/v1/backends/{created['backend']}/", 200)
    assert (backend["observed_state"], backend["desired_state"]) == ("ready", "inactive")


def _ours(loops: dict[str, str]) -> list[str]:
    return [dev for dev, backing in loops.items() if under(backing, str(TEST_BASE))]


@pytest.mark.parametrize("kind", ["loop", "zram"])
def test_a_loop_or_zram_backend_is_made_once_and_swapped_on(
    zram_cleanup: None, kind: str, worker: WorkerProcess, alice: User
) -> None:
    """The store is enabled twice in the one job (provision, then activate's own proof): it
    must be the same device, not a second loop or zram device left behind."""
    # Only this run's: another test run on the machine may add devices meanwhile.
    loops_before = set(_ours(attached_loops()))
    noted_before = len(zram_ledger())
    params = {"path": str(worker.swap_root / "now.img")} if kind == "loop" else {}
    job = services.create_backend(
        host=worker.host, kind=kind, name=f"{kind}-now", size_bytes=16 * MiB,
        actor=Actor(alice, Job.Via.API), params=params, priority=5, activate=True,
    )  # fmt: skip
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, f"{job.error}\n{job.log}"
    backend = Backend.objects.get(name=f"{kind}-now")
    device = backend.state["device"]
    area = kernel.find_area(device)
    assert area is not None and area.priority == 5
    if kind == "loop":
        assert set(_ours(attached_loops())) - loops_before == {device}
    else:
        # Every device the job added, those it removed again too: one, and still there.
        assert [dev for dev, _ in zram_ledger()[noted_before:]] == [device]

    job = wait_for_job(
        services.request_action(backend, Job.Kind.DESTROY, Actor(alice, Job.Via.API), {}),
        60, worker=worker,
    )  # fmt: skip
    assert job.state == Job.State.SUCCEEDED, job.error
    assert not kernel.is_active(device)


def test_a_refused_store_is_neither_formatted_nor_swapped_on_nor_repaired(
    worker: WorkerProcess, alice: User
) -> None:
    """The provision refuses a file it did not make: nothing is written, nothing swapped on,
    and the backend, desired inactive, gives auto-repair nothing to turn on later."""
    path = worker.swap_root / "theirs.dat"
    data = (b"someone's data\n" * 70000)[: 1 * MiB]
    path.write_bytes(data)
    os.chmod(path, 0o600)
    actor = Actor(alice, Job.Via.API)
    job = services.create_backend(
        host=worker.host, kind="file", name="theirs", size_bytes=len(data), actor=actor,
        params={"path": str(path)}, activate=True, auto_repair=True,
    )  # fmt: skip
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.FAILED
    assert "swapon" not in job.log
    assert path.read_bytes() == data
    assert str(path) not in swaps()
    backend = Backend.objects.get(name="theirs")
    assert backend.desired_state == Backend.Desired.INACTIVE

    check = wait_for_job(services.request_action(backend, Job.Kind.CHECK, actor), 60,
                         worker=worker)  # fmt: skip
    assert check.state == Job.State.SUCCEEDED, check.error
    assert repair_drifted() == 0
    assert not Job.objects.filter(backend=backend, kind=Job.Kind.ACTIVATE).exists()
    assert not AuditEvent.objects.filter(object_uuid=backend.uuid, action="activate").exists()
