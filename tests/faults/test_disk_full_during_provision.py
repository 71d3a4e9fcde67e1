"""Provisioning a swap file on a swap root that has no room: a small ext4 filesystem in a
loop-mounted image, too small from the start, or filled by another writer while the worker
is allocating. Either way the job fails with a sentence that names the shortage, no partial
file stays behind, the backend reads as absent, and it provisions once there is room.

To fill the disk *during* the allocation every time, strace delays the worker's
``fallocate`` system call (it still runs, for real, three seconds late) while the test
writes a filler file over every free block; the ENOSPC the worker then gets is the kernel's.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import mounted_image, needs_root
from tests.fixtures.workers import wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20


def fill(directory: Path) -> Path:
    """Allocate every block left on ``directory``'s filesystem (root may use reserved ones)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        chunk, offset = 4 * MiB, 0
        while chunk >= 4096:
            try:
                os.posix_fallocate(fd, offset, chunk)
                offset += chunk
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
                chunk //= 2
    finally:
        os.close(fd)
    return filler


@contextlib.contextmanager
def fallocate_delayed(pid: int, seconds: float):
    """Every fallocate of process ``pid`` enters ``seconds`` late (strace fault injection of
    a delay only: the call itself and its result are the kernel's)."""
    usec = str(int(seconds * 1_000_000))
    tracer = subprocess.Popen(
        ["strace", "-qq", "-o", "/dev/null", "-p", str(pid), "-e", "trace=fallocate",
         "-e", f"inject=fallocate:delay_enter={usec}"],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        # strace attaches before it reads the first event; give it that moment.
        wait_until(lambda: _traced(pid), 10, f"strace to attach to {pid}")
        yield
    finally:
        tracer.send_signal(signal.SIGINT)  # detaches, leaving the worker running
        with contextlib.suppress(subprocess.TimeoutExpired):
            tracer.wait(timeout=10)
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()


def _traced(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as f:
        return any(line.startswith("TracerPid:") and line.split()[1] != "0" for line in f)


def test_a_swap_root_too_small_fails_the_job_and_leaves_nothing(start_worker, alice, scratch):
    actor = Actor(alice, Job.Via.API)
    with mounted_image(scratch, "ext4", size_mb=32) as mnt:
        w = start_worker(swap_root=mnt)
        path = mnt / "big"
        job = services.create_backend(
            host=w.host, kind="file", name="big", size_bytes=64 * MiB, actor=actor,
            params={"path": str(path)},
        )  # fmt: skip
        job = wait_for_job(job, 30, worker=w)
        assert job.state == Job.State.FAILED
        assert "not enough free space" in job.error and str(64 * MiB) in job.error
        assert "smaller size" in job.error
        assert not path.exists()
        backend = Backend.objects.get(name="big")
        assert backend.observed_state == Backend.Observed.ABSENT
        w.stop()


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_a_disk_filled_during_the_allocation_fails_cleanly(start_worker, alice, scratch):
    actor = Actor(alice, Job.Via.API)
    with mounted_image(scratch, "ext4", size_mb=64) as mnt:
        w = start_worker(swap_root=mnt)
        path = mnt / "s0"
        with fallocate_delayed(w.pid, 3.0):
            job = services.create_backend(
                host=w.host, kind="file", name="s0", size_bytes=24 * MiB, actor=actor,
                params={"path": str(path)},
            )  # fmt: skip
            # The worker passed its free-space check and made the file; its fallocate waits.
            wait_until(path.exists, 20, "the worker to create the file")
            filler = fill(mnt)
            job = wait_for_job(job, 30, worker=w)
        assert job.state == Job.State.FAILED
        assert f"cannot allocate {24 * MiB} bytes for {path}" in job.error
        assert "No space left on device" in job.error
        assert "Traceback" not in job.error
        assert not path.exists()  # the partial file was removed
        backend = Backend.objects.get(name="s0")
        assert backend.observed_state == Backend.Observed.ABSENT
        assert backend.header == {} and backend.swap_uuid is None

        # Once there is room, the same backend provisions.
        filler.unlink()
        job = wait_for_job(services.request_action(backend, Job.Kind.PROVISION, actor), 30)
        assert job.state == Job.State.SUCCEEDED, job.error
        assert path.stat().st_size == 24 * MiB
        job = wait_for_job(services.request_action(backend, Job.Kind.DESTROY, actor), 30)
        assert job.state == Job.State.SUCCEEDED, job.error
        w.stop()
