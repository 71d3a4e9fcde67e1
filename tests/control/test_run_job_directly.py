"""The run_job task and the JobRunner, called directly in this process (no broker)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from backends import kernel
from swapadmin.core import runner, signing, tasks
from swapadmin.core.models import Backend, Job
from tests.fixtures.host import all_zram, hot_add_zram, needs_root

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost")]

MiB = 1 << 20


def backend_on(host, path, **kw) -> Backend:
    return Backend.objects.create(
        host=host, kind="file", name=os.path.basename(path), params={"path": str(path)},
        size_bytes=16 * MiB, **kw,
    )  # fmt: skip


def job_for(backend, kind, **params) -> Job:
    job = Job.objects.create(
        kind=kind, host=backend.host, backend=backend, backend_name=backend.name, params=params
    )
    # These tests speak of the worker's own checks of a job the control plane authorised:
    # the rows are signed as they stand (tests/security refuses the unsigned and altered).
    signing.sign_job(job.pk)
    job.refresh_from_db()
    return job


def run(job: Job) -> Job:
    tasks.run_job(job.pk)
    job.refresh_from_db()
    return job


def ran(job: Job) -> Job:
    """The job run by the runner itself, past the task's gate: a retry is left in the
    queue, never sent."""
    runner.run(job.pk, worker="w@x")
    job.refresh_from_db()
    return job


def test_it_returns_quietly_when_the_job_is_gone():
    assert tasks.run_job(987654321) == "gone"


def test_it_leaves_a_finished_job_alone(host_row, swap_root):
    job = job_for(backend_on(host_row, swap_root / "s"), Job.Kind.PROVISION)
    Job.objects.filter(pk=job.pk).update(state=Job.State.SUCCEEDED)
    assert tasks.run_job(job.pk) == Job.State.SUCCEEDED
    assert not (swap_root / "s").exists()


def test_it_refuses_a_job_for_another_host(host_row, swap_root, settings):
    settings.SWAPADMIN_HOST = "someone-else"
    job = job_for(backend_on(host_row, swap_root / "s"), Job.Kind.PROVISION)
    assert runner.run(job.pk, worker="w@x").state == "wrong-host"
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED and job.started_at is None
    assert not (swap_root / "s").exists()


def test_a_second_job_on_a_busy_backend_waits(host_row, swap_root):
    backend = backend_on(host_row, swap_root / "s")
    first = job_for(backend, Job.Kind.SCAN)
    Job.objects.filter(pk=first.pk).update(state=Job.State.RUNNING, worker_pid=os.getpid())
    second = job_for(backend, Job.Kind.ACTIVATE)
    outcome = runner.run(second.pk, worker="w@x")
    assert outcome.state == "busy" and outcome.retry_in
    second.refresh_from_db()
    assert second.state == Job.State.QUEUED
    assert str(first.uuid) in second.waiting_reason


def test_a_path_tampered_outside_the_swap_roots_is_refused(host_row, swap_root, scratch):
    outside = scratch / "outside"
    job = job_for(backend_on(host_row, outside), Job.Kind.PROVISION)
    job = run(job)
    assert job.state == Job.State.FAILED
    assert "outside the swap roots" in job.error
    assert "Traceback" not in job.error and "Traceback" not in job.log
    assert not outside.exists()


def test_a_job_cancelled_before_it_starts_does_nothing(host_row, swap_root):
    job = job_for(backend_on(host_row, swap_root / "s"), Job.Kind.PROVISION)
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    assert run(job).state == Job.State.CANCELLED
    assert not (swap_root / "s").exists()


def test_an_unknown_kind_fails_with_a_sentence(host_row, swap_root):
    job = job_for(backend_on(host_row, swap_root / "s"), "defragment")
    job = run(job)
    assert job.state == Job.State.FAILED
    assert job.error == "this worker does not know how to run a 'defragment' job"


@needs_root
def test_activate_and_deactivate_are_idempotent(host_row, swap_root):
    path = swap_root / "s"
    backend = backend_on(host_row, path, priority=11, label="unit")
    assert run(job_for(backend, Job.Kind.PROVISION)).state == Job.State.SUCCEEDED
    first = run(job_for(backend, Job.Kind.ACTIVATE))
    assert first.result == {"already_active": False, "priority": 11}
    assert kernel.find_area(str(path)).priority == 11
    again = run(job_for(backend, Job.Kind.ACTIVATE))
    assert again.state == Job.State.SUCCEEDED and again.result["already_active"] is True
    assert "nothing to do" in again.log

    off = run(job_for(backend, Job.Kind.DEACTIVATE))
    assert off.state == Job.State.SUCCEEDED and not kernel.is_active(str(path))
    off_again = run(job_for(backend, Job.Kind.DEACTIVATE))
    assert off_again.result == {"already_inactive": True}
    backend.refresh_from_db()
    assert backend.observed_state == Backend.Observed.READY


@needs_root
def test_a_retryable_refusal_goes_back_to_the_queue(host_row, swap_root, monkeypatch):
    path = swap_root / "s"
    backend = backend_on(host_row, path)
    assert run(job_for(backend, Job.Kind.PROVISION)).state == Job.State.SUCCEEDED
    subprocess.run(["swapon", str(path)], check=True)
    # A margin no host has: the swapoff RAM check refuses, and says it may work later.
    monkeypatch.setenv("SWAPADMIN_SWAPOFF_MARGIN_BYTES", str(1 << 50))
    job = job_for(backend, Job.Kind.DEACTIVATE)
    outcome = runner.run(job.pk, worker="w@x")
    assert outcome.state == Job.State.QUEUED
    assert (outcome.retry_in, outcome.attempt) == (runner.RETRY_BASE_SECONDS, 1)
    job.refresh_from_db()
    assert job.state == Job.State.QUEUED and job.waiting_reason.startswith("retrying in 5 s")
    assert job.attempt == 1  # counted in the row: no message can set it
    assert kernel.is_active(str(path))
    # The last attempt fails for good, with the policy's message.
    Job.objects.filter(pk=job.pk).update(attempt=runner.MAX_RETRIES)
    outcome = runner.run(job.pk, worker="w@x")
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "SWAPADMIN_SWAPOFF_MARGIN_BYTES" in job.error
    assert job.finished_at <= timezone.now()


def test_checks_neither_wait_for_nor_hold_up_other_jobs(host_row, swap_root):
    backend = backend_on(host_row, swap_root / "s")
    scan = job_for(backend, Job.Kind.SCAN)
    assert runner.claim(scan, "w@x")
    check = job_for(backend, Job.Kind.CHECK)
    assert runner.claim(check, "w@x")  # the scan runs, the check runs beside it
    Job.objects.filter(pk=scan.pk).update(state=Job.State.SUCCEEDED)
    activate = job_for(backend, Job.Kind.ACTIVATE)
    assert runner.claim(activate, "w@x")  # the running check does not hold it up
    assert not runner.claim(job_for(backend, Job.Kind.DEACTIVATE), "w@x")  # activate does


def someone_elses_zram(size: int) -> str:
    """A zram device hot_added here as a distribution's zram-generator would, swapping."""
    dev = hot_add_zram()
    Path(f"/sys/block/{Path(dev).name}/disksize").write_text(str(size))
    subprocess.run(["mkswap", "-q", dev], check=True)
    return dev


def zram_backend(host, device, **kw) -> Backend:
    """The row of a zram backend provisioned (or adopted) during another boot, as it stands
    now: its state and store record name the device by a number and boot id that may now
    be someone else's device."""
    other_boot = str(uuid.uuid4())
    swap_uuid = uuid.uuid4()
    st = os.stat(device)
    record = {
        "devnum": f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}",
        "diskseq": "1",
        "boot_id": other_boot,
        "key": f"zram:{other_boot}:1",
        "uuid": str(swap_uuid),
    }
    if kw.get("adopted"):
        record["adopted"] = True
    state = {"device": device, "boot_id": other_boot, "store": record}
    return Backend.objects.create(
        host=host, kind="zram", name="z", params={}, size_bytes=8 * MiB, state=state,
        swap_uuid=swap_uuid, store_key=record["key"], provisioned_at=timezone.now(), **kw,
    )  # fmt: skip


@needs_root
@pytest.mark.usefixtures("zram_cleanup")
def test_destroy_leaves_a_zram_device_of_another_boot_alone(host_row):
    theirs = someone_elses_zram(8 * MiB)
    subprocess.run(["swapon", theirs], check=True)
    try:
        backend = zram_backend(host_row, theirs)
        job = run(job_for(backend, Job.Kind.DESTROY))
        assert job.state == Job.State.SUCCEEDED, job.error
        assert not Backend.objects.filter(pk=backend.pk).exists()
        assert theirs in all_zram() and kernel.is_active(theirs)
    finally:
        subprocess.run(["swapoff", theirs], check=False)


@needs_root
@pytest.mark.usefixtures("zram_cleanup")
def test_an_adopted_zram_device_gone_with_a_reboot_is_not_made_again(host_row):
    theirs = someone_elses_zram(8 * MiB)
    before = all_zram()
    backend = zram_backend(host_row, theirs, adopted=True)
    job = run(job_for(backend, Job.Kind.ACTIVATE))
    assert job.state == Job.State.FAILED
    assert "destroy (release) it" in job.error
    # Neither theirs swapped on nor a device of ours hot_added for an area we did not make.
    assert all_zram() == before and not kernel.is_active(theirs)


def adopt(host, path: Path) -> Backend:
    """Adopt ``path`` the way a discover job does (listed in the host's fstab, here the
    test's own): the row it makes is provisioned and records the store as it found it."""
    with open(settings.SWAPADMIN_FSTAB, "a") as f:
        f.write(f"{path} none swap sw 0 0\n")
    job = Job.objects.create(kind=Job.Kind.DISCOVER, host=host, params={"paths": [str(path)]})
    signing.sign_job(job.pk)
    job = run(job)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert [a["path"] for a in job.result["adopted"]] == [str(path)], job.result
    backend = Backend.objects.get(host=host, params__path=str(path))
    assert backend.adopted and backend.provisioned_at is not None
    assert backend.state["store"]["adopted"] is True
    return backend


@needs_root
@pytest.mark.parametrize("kind", [Job.Kind.SCAN, Job.Kind.BENCHMARK])
def test_a_queued_scan_or_benchmark_of_an_adopted_area_is_refused(host_row, swap_root, kind):
    path = swap_root / "theirs"
    path.write_bytes(os.urandom(16 * MiB))
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(path)], check=True)  # a swap area someone else made
    content = path.read_bytes()
    backend = adopt(host_row, path)
    # Queued straight into the database: the request side would refuse it already.
    job = run(job_for(backend, kind))
    assert job.state == Job.State.FAILED
    assert "was adopted, not made by swapadmin" in job.error
    assert path.read_bytes() == content


@needs_root
@pytest.mark.parametrize("kind", [Job.Kind.ACTIVATE, Job.Kind.SCAN, Job.Kind.RESIZE])
def test_a_backend_never_provisioned_gets_no_other_job(host_row, swap_root, kind):
    # A swap area someone else made at the path of a backend whose provision never ran.
    path = swap_root / "theirs"
    path.write_bytes(os.urandom(16 * MiB))
    path.chmod(0o600)
    subprocess.run(["mkswap", "-q", str(path)], check=True)
    content = path.read_bytes()
    backend = backend_on(host_row, path)
    params = {"size_bytes": 24 * MiB} if kind == Job.Kind.RESIZE else {}
    job = run(job_for(backend, kind, **params))
    assert job.state == Job.State.FAILED
    assert job.error == (
        f"theirs was never provisioned (its store was never proven to be swapadmin's), so a "
        f"{kind} job is refused. Provision it again (with force if what is there may be "
        "destroyed), or destroy it, which then removes only the row."
    )
    assert not kernel.is_active(str(path))
    assert path.read_bytes() == content
    backend.refresh_from_db()
    assert backend.provisioned_at is None and backend.store_key is None
