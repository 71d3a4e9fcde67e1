"""Provisioning a swap file on a swap root that has no room: a small ext4 filesystem in a
loop-mounted image, too small from the start, or filled by another writer while the worker
is allocating. Either way the job fails with a sentence that names the shortage, no partial
file stays behind, the backend reads as absent, and it provisions once there is room.

To fill the disk *during* the allocation every time, strace holds the worker's ``fallocate``
system call at its entry (a delay injected, cut short when strace detaches) while the test
writes a filler file over every free block; once the disk is full strace lets go, the call
runs for real, and the ENOSPC the worker then gets is the kernel's.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.faults.conftest import pool_children
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


#: How long strace holds a fallocate at most: far longer than any test, as the hold ends when
#: strace detaches (when the test has filled the disk), not when this runs out.
HOLD_USEC = 600 * 1_000_000


@contextlib.contextmanager
def fallocate_held(pids: list[int]):
    """Every fallocate of the processes ``pids`` (a worker's pool) is held at its entry
    until the block ends (strace fault injection of a delay, cut short when strace
    detaches): the call itself and its result are the kernel's."""
    attach = [arg for pid in pids for arg in ("-p", str(pid))]
    tracer = subprocess.Popen(
        ["strace", "-qq", "-o", "/dev/null", *attach, "-e", "trace=fallocate",
         "-e", f"inject=fallocate:delay_enter={HOLD_USEC}"],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_until(lambda: all(_traced(p) for p in pids), 10, f"strace to attach to {pids}")
        yield
    finally:
        tracer.send_signal(signal.SIGINT)  # detaches, releasing the held call
        with contextlib.suppress(subprocess.TimeoutExpired):
            tracer.wait(timeout=10)
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()


def _traced(pid: int) -> bool:
    with open(f"/proc/{pid}/status") as f:
        return any(line.startswith("TracerPid:") and line.split()[1] != "0" for line in f)


def held_in_fallocate(pid: int, length: int) -> bool:
    """True while ``pid`` is stopped by its tracer at the entry of a system call whose
    fourth argument is ``length``: fallocate(fd, mode, offset, len) of the swap file."""
    with open(f"/proc/{pid}/status") as f:
        stopped = any(line.startswith("State:") and line.split()[1] == "t" for line in f)
    with open(f"/proc/{pid}/syscall") as f:
        args = f.read().split()
    return stopped and len(args) > 4 and int(args[4], 16) == length


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
        pool = pool_children(w.pid)
        with fallocate_held(pool):
            job = services.create_backend(
                host=w.host, kind="file", name="s0", size_bytes=24 * MiB, actor=actor,
                params={"path": str(path)},
            )  # fmt: skip
            chosen_uuid = Backend.objects.get(name="s0").swap_uuid
            assert chosen_uuid is not None
            # The worker passed its free-space check, made the file (unnamed until it is
            # complete: O_TMPFILE), and is held at the entry of its fallocate; the test fills
            # the disk meanwhile.
            wait_until(
                lambda: any(held_in_fallocate(p, 24 * MiB) for p in pool), 20,
                "the worker's fallocate",
            )  # fmt: skip
            assert not path.exists()
            filler = fill(mnt)
        # strace detached: the fallocate runs now, on a full filesystem.
        job = wait_for_job(job, 30, worker=w)
        assert job.state == Job.State.FAILED
        assert f"cannot allocate {24 * MiB} bytes for {path}" in job.error
        assert "No space left on device" in job.error
        assert "Traceback" not in job.error
        assert not path.exists()  # the unfinished file was never named: nothing to remove
        backend = Backend.objects.get(name="s0")
        assert backend.observed_state == Backend.Observed.ABSENT
        # Nothing was taken or formatted: no header, no store, not provisioned. The swap
        # UUID is the one chosen when the backend was created, for the header to come.
        assert backend.header == {} and backend.swap_uuid == chosen_uuid
        assert backend.provisioned_at is None and backend.store_key is None
        assert not backend.state.get("store")
        # Only provision, destroy and check are accepted until a provision completes.
        with pytest.raises(services.NotReady, match="no store proven to be swapadmin's"):
            services.request_action(backend, Job.Kind.ACTIVATE, actor)

        # Once there is room, the same backend provisions, with the UUID chosen at creation.
        filler.unlink()
        job = wait_for_job(services.request_action(backend, Job.Kind.PROVISION, actor), 30)
        assert job.state == Job.State.SUCCEEDED, job.error
        assert path.stat().st_size == 24 * MiB
        backend.refresh_from_db()
        assert backend.provisioned_at is not None and backend.store_key
        assert backend.swap_uuid == chosen_uuid == uuid.UUID(backend.header["uuid"])
        job = wait_for_job(services.request_action(backend, Job.Kind.DESTROY, actor), 30)
        assert job.state == Job.State.SUCCEEDED, job.error
        w.stop()
