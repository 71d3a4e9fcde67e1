"""A fstab swap line may name something that is not swap (a file of data, a device holding
a filesystem). A real discover job adopts only swap: an area active in /proc/swaps, or one
whose page 0 holds a SWAPSPACE2 header. Anything else is skipped with the reason, wherever
it lives (inside the swap roots too), and nothing is written: no row, no byte, no fstab
change."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def digest(path: Path | str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read(16 * MiB)).hexdigest()


def discover(worker, alice, spec: str) -> Job:
    job = services.request_host_job(
        worker.host, Job.Kind.DISCOVER, Actor(alice, Job.Via.API), {"paths": [spec]}
    )
    return wait_for_job(job, 60, worker=worker)


def test_a_data_file_inside_the_swap_root_named_as_swap_is_skipped(worker, alice):
    data = worker.swap_root / "not-swap"
    data.write_bytes(os.urandom(16 * MiB))
    data.chmod(0o600)
    before = digest(data)
    with worker.fstab.open("a") as f:
        f.write(f"{data} none swap sw 0 0\n")
    fstab_before = worker.fstab.read_bytes()

    job = discover(worker, alice, str(data))
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["adopted"] == [], job.result
    [skipped] = job.result["skipped"]
    assert skipped["path"] == str(data)
    assert (
        "is not a swap area (not active in /proc/swaps, no SWAPSPACE2 header" in (skipped["reason"])
    ), skipped
    assert not Backend.objects.filter(host=worker.host, params__path=str(data)).exists()
    assert digest(data) == before
    assert worker.fstab.read_bytes() == fstab_before


@pytest.fixture
def ext4_loop(scratch: Path) -> Iterator[str]:
    """A loop device holding an ext4 filesystem, over a file of the test's; detached
    whatever happens."""
    img = scratch / "fs.img"
    with open(img, "wb") as f:
        f.truncate(16 * MiB)
    img.chmod(0o600)
    dev = subprocess.run(
        ["losetup", "--find", "--show", str(img)], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        subprocess.run(["mkfs.ext4", "-q", "-F", dev], check=True, capture_output=True)
        yield dev
    finally:
        subprocess.run(["swapoff", dev], check=False, capture_output=True)
        subprocess.run(["losetup", "-d", dev], check=False, capture_output=True)


def test_a_block_device_named_by_path_that_holds_a_filesystem_is_skipped(worker, alice, ext4_loop):
    before = digest(ext4_loop)
    with worker.fstab.open("a") as f:
        f.write(f"{ext4_loop} none swap sw 0 0\n")
    fstab_before = worker.fstab.read_bytes()

    job = discover(worker, alice, ext4_loop)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["adopted"] == [], job.result
    [skipped] = job.result["skipped"]
    assert skipped["path"] == ext4_loop
    assert "is not a swap area" in skipped["reason"] and "ext4" in skipped["reason"], skipped
    assert not Backend.objects.filter(host=worker.host, state__device=ext4_loop).exists()
    assert digest(ext4_loop) == before
    assert worker.fstab.read_bytes() == fstab_before
