"""Stores that are not a backend's own, and the means to swap them in under a worker.

Everything here is made under the test's scratch directory: data files and filesystem
images, loop devices attached to them (always detached again, whatever the test did), and
the means to see a worker paused at the one point between its proof of a store and its
first write (the UPDATE of the backend's ``store_key``, held up by a row lock).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.host import run
from tests.fixtures.workers import activity, wait_until

MiB = 1 << 20


def digest(path: os.PathLike[str] | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_file(path: Path, size: int = 8 * MiB) -> str:
    """Someone's data: random bytes, root's and 0600 like a swap file, so only whose file it
    is can tell it apart. Returns its digest."""
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    path.chmod(0o600)
    return digest(path)


def ext4_image(path: Path, size: int = 64 * MiB, label: str = "precious") -> Path:
    """A file holding an ext4 filesystem with a file in it."""
    with open(path, "wb") as f:
        f.truncate(size)
    run("mkfs.ext4", "-q", "-F", "-L", label, str(path))
    run("debugfs", "-w", "-R", "write /etc/hostname hostname", str(path))
    return path


def fsck_clean(path: os.PathLike[str] | str) -> bool:
    """``e2fsck -fn``: the filesystem is intact (read-only check, exit 0)."""
    return run("e2fsck", "-fn", str(path), check=False).returncode == 0


@pytest.fixture
def loops() -> Iterator[Callable[..., str]]:
    """``attach(file, device=None)``: a loop device over ``file`` (a chosen one, to re-point
    a number someone else used); every device attached here is detached at the end."""
    made: list[str] = []

    def attach(file: Path, device: str | None = None, *, partitions: bool = False) -> str:
        argv = ["losetup", "--show"] + ([device] if device else ["--find"])
        dev = run(*argv, str(file)).stdout.strip()
        made.append(dev)
        if partitions:
            # The kernel's own scan (losetup -P) leaves no nodes here without udev; partx
            # adds the partitions and devtmpfs their nodes.
            run("partx", "-a", dev)
        return dev

    try:
        yield attach
    finally:
        for dev in made:
            for part in Path("/sys/block", Path(dev).name).glob(f"{Path(dev).name}p*"):
                run("swapoff", f"/dev/{part.name}", check=False)
            # Partitions partx added outlive the device's detach: delete them first.
            run("partx", "-d", dev, check=False)
            run("swapoff", dev, check=False)
            run("losetup", "-d", dev, check=False)


def detach(dev: str) -> None:
    run("swapoff", dev, check=False)
    run("losetup", "-d", dev)
    wait_until(lambda: not Path(f"/sys/block/{Path(dev).name}/loop").exists(), 10, f"{dev} free")


def worker_waits_at_store_claim() -> bool:
    """True once a worker waits on a row lock while recording the store it has just opened
    and proven (``plugins.claim_store``): after the proof, before the first byte. With the
    backend's row held by ``tests.faults.pause.RowLock``, that is where it stops."""
    rows = activity(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        'AND query LIKE \'UPDATE "core_backend" SET "store_key"%%\''
    )
    return bool(rows[0][0])


@pytest.fixture
def start_worker(start_worker: Callable[..., Any]) -> Callable[..., Any]:
    """Workers here run the pool production runs (prefork, two processes, as
    docker-compose.yml), not -P solo: the proofs must hold with jobs side by side."""

    def start(**options: Any) -> Any:
        options.setdefault("pool", "prefork")
        return start_worker(**options)

    return start
