"""A zram device set up the way zram-generator does it at boot (hot_add, algorithm,
disksize, mkswap, swapon) is adopted by a real discover job as what it is; reset and set
up again with the same parameters, as a reboot recreates it (a new swap UUID, a new
identity), it is still the same backend: discover follows it instead of adopting it
twice, and it is swapped off and on as the one backend.

The reboot is simulated: the worker reads its boot id from a file of the test's own
(``SWAPADMIN_BOOT_ID_FILE`` in its environment), holding the kernel's until the "reboot"
writes a new one. Within one boot a device set up again is never followed
(tests/backends/test_a_zram_device_set_up_again_in_the_same_boot_is_not_followed.py)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import kernel
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import hot_add_zram, needs_root, reset_zram, zram_diskseq
from tests.fixtures.workers import WorkerProcess, wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SIZE = 16 << 20


def algorithm_for(name: str) -> str:
    """One the kernel offers that is not the default, so the signature means something."""
    offered = [w.strip("[]") for w in Path(f"/sys/block/{name}/comp_algorithm").read_text().split()]
    return next((a for a in ("lz4", "lzo", "zstd") if a in offered), offered[0])


def set_up_like_zram_generator(name: str, algorithm: str) -> str:
    """What systemd-zram-setup@zramN.service does: algorithm, disksize, mkswap, swapon."""
    sys = Path("/sys/block") / name
    sys.joinpath("comp_algorithm").write_text(algorithm)
    sys.joinpath("disksize").write_text(str(SIZE))
    dev = f"/dev/{name}"
    subprocess.run(["mkswap", "-q", dev], check=True)
    subprocess.run(["swapon", "-p", "100", dev], check=True)
    return subprocess.run(
        ["blkid", "-c", "/dev/null", "-o", "value", "-s", "UUID", dev],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def boot_id_file(tmp_path: Path) -> Path:
    """Where the worker reads its boot id: the kernel's, until a simulated reboot."""
    path = tmp_path / "boot_id"
    path.write_text(Path("/proc/sys/kernel/random/boot_id").read_text())
    return path


@pytest.fixture
def distro_zram_device() -> Iterator[str]:
    """A zram device of the test's own, hot_added; swapped off, reset and removed after the
    test's worker has stopped (the worker fixture asks for this one first): a worker still
    running when it went could swap the device on again, the adopted backend being wanted
    active, and the removal then found it busy and left it behind."""
    name = Path(hot_add_zram()).name
    seq = zram_diskseq(name)  # removed only while it is still this device
    try:
        yield name
    finally:
        reset_zram(f"/dev/{name}", seq)


@pytest.fixture
def worker(distro_zram_device: str, start_worker, boot_id_file: Path) -> WorkerProcess:
    """The device is also named in the worker's fstab: another test run's clean-up on this
    machine may swap off any zram device it did not see at its start, and discover must
    still find this one then (it holds a swap header either way)."""
    w = start_worker(env={"SWAPADMIN_BOOT_ID_FILE": str(boot_id_file)})
    with w.fstab.open("a") as f:
        f.write(f"/dev/{distro_zram_device} none swap sw,noauto 0 0\n")
    return w


@pytest.fixture
def distro_zram(worker: WorkerProcess, distro_zram_device: str) -> str:
    return distro_zram_device


def test_it_is_adopted_and_is_the_same_backend_after_a_reboot(
    worker, alice, distro_zram, boot_id_file
):
    actor = Actor(alice, Job.Via.API)
    dev = f"/dev/{distro_zram}"
    algorithm = algorithm_for(distro_zram)
    first_uuid = set_up_like_zram_generator(distro_zram, algorithm)

    def discover() -> Job:
        job = services.request_host_job(worker.host, Job.Kind.DISCOVER, actor, {"paths": [dev]})
        job = wait_for_job(job, 60, worker=worker)
        assert job.state == Job.State.SUCCEEDED, job.error
        return job

    job = discover()
    assert [a["path"] for a in job.result["adopted"]] == [dev], job.result
    b = Backend.objects.get(host=worker.host, uuid=job.result["adopted"][0]["uuid"])
    assert (b.kind, b.adopted, str(b.swap_uuid)) == ("zram", True, first_uuid)
    sig = b.state["distro"]
    assert (sig["name"], sig["disksize"], sig["algorithm"]) == (distro_zram, SIZE, algorithm)

    # The "reboot": a new boot id, and the device set up again from scratch by its
    # distribution. (check=False: another test run's clean-up may have swapped it off.)
    boot_id_file.write_text(f"{uuid.uuid4()}\n")
    subprocess.run(["swapoff", dev], check=False, capture_output=True)
    Path(f"/sys/block/{distro_zram}/reset").write_text("1")
    second_uuid = set_up_like_zram_generator(distro_zram, algorithm)
    assert second_uuid != first_uuid

    job = discover()
    assert job.result["adopted"] == [], job.result
    assert job.result["followed"] == [{"name": b.name, "device": dev}]
    assert Backend.objects.filter(host=worker.host, kind="zram").count() == 1
    b.refresh_from_db()
    assert str(b.swap_uuid) == second_uuid
    assert b.state["store"]["uuid"] == second_uuid and b.state["store"]["adopted"] is True

    # Both prove the device is this backend's (its recorded identity and swap UUID).
    subprocess.run(["swapon", dev], check=False, capture_output=True)
    job = wait_for_job(services.request_action(b, Job.Kind.DEACTIVATE, actor, {}), 60)
    assert job.state == Job.State.SUCCEEDED, job.error
    job = wait_for_job(services.request_action(b, Job.Kind.ACTIVATE, actor, {}), 60)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["already_active"] is False and job.result["priority"] is not None


def test_a_device_set_up_differently_is_not_taken_for_it(worker, alice, distro_zram):
    actor = Actor(alice, Job.Via.API)
    dev = f"/dev/{distro_zram}"
    algorithm = algorithm_for(distro_zram)
    set_up_like_zram_generator(distro_zram, algorithm)
    job = services.request_host_job(worker.host, Job.Kind.DISCOVER, actor, {"paths": [dev]})
    job = wait_for_job(job, 60, worker=worker)
    assert [a["path"] for a in job.result["adopted"]] == [dev], job.result
    b = Backend.objects.get(host=worker.host, uuid=job.result["adopted"][0]["uuid"])

    # Set up again at another size: not what the distribution makes at every boot.
    subprocess.run(["swapoff", dev], check=False, capture_output=True)
    sys = Path(f"/sys/block/{distro_zram}")
    sys.joinpath("reset").write_text("1")
    sys.joinpath("comp_algorithm").write_text(algorithm)
    sys.joinpath("disksize").write_text(str(2 * SIZE))
    subprocess.run(["mkswap", "-q", dev], check=True)

    job = wait_for_job(services.request_action(b, Job.Kind.ACTIVATE, actor, {}), 60)
    assert job.state == Job.State.FAILED
    # Refused by its identity or by its size, whichever the kernel changed on reset.
    assert "not this backend's" in job.error or f"holds {2 * SIZE} bytes" in job.error
    assert not kernel.is_active(dev)
