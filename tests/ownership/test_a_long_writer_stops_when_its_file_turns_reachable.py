"""A benchmark or a scan writes a file only under a write lease: the kernel grants it only
while nothing else has the file open, and another open (a sysadmin's losetup, a swapon, a
reader) breaks it and waits until it is let go. Whenever that open comes, the writer stops
with nothing in flight before the open returns: what the other process sees when its open
returns is what the file holds from then on, and the writer names what happened. A
benchmark also stops when its caller cancels it, before a write."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backends import header, pageio
from backends.errors import BusyError, NotOursError, OpenedMeanwhileError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run
from tests.fixtures.stores import later_file, rebuilt
from tests.fixtures.workers import wait_until
from tests.ownership.conftest import MiB, digest

pytestmark = needs_root


@pytest.fixture
def backend(swap_root: Path, policy: Policy) -> Iterator[FileBackend]:
    """A later job's plugin for a provisioned 16 MiB file; the loop devices a test attached
    over it are swapped off first."""
    path = str(swap_root / "long.swap")
    with later_file(path, size=16 * MiB, policy=policy, label="long") as plugin:
        try:
            yield plugin
        finally:
            for line in run("losetup", "-j", path).stdout.splitlines():
                run("swapoff", line.split(":")[0], check=False)


class Opener(threading.Thread):
    """Another process's view: open the file (which waits while a lease is held), then
    read all of it through that descriptor at once."""

    def __init__(self, path: str) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.seen: str | None = None

    def run(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            h = hashlib.sha256()
            while chunk := os.read(fd, 1 << 20):
                h.update(chunk)
            self.seen = h.hexdigest()
        finally:
            os.close(fd)


def open_waits_on(path: str, start: Callable[[], None]) -> Callable[[], None]:
    """``start`` the other process's open, then return once the kernel shows the writer's
    lease breaking (/proc/locks): the open is made and waits, whatever the machine's speed."""

    def go() -> None:
        start()
        ino = f":{os.stat(path).st_ino} "
        wait_until(
            lambda: any(
                "BREAKING" in line and ino in line
                for line in Path("/proc/locks").read_text().splitlines()
            ),
            30,
            "the lease breaking",
        )

    return go


def after_phase(n: int, act: Callable[[], None]) -> pageio.ProgressFn:
    """A benchmark progress callback that does ``act`` once phase ``n`` (1 to 4) is done."""
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if len(seen) == n:
            act()

    return progress


def test_a_benchmark_writes_nothing_after_another_open_returns(backend: FileBackend) -> None:
    opener = Opener(backend.swap_path)
    # The open comes between phases 2 and 3, and waits; phase 3 writes at random.
    with pytest.raises(OpenedMeanwhileError, match="opened .* while swapadmin wrote it") as e:
        pageio.benchmark(
            backend,
            seconds=2,
            progress=after_phase(2, open_waits_on(backend.swap_path, opener.start)),
        )
    opener.join(timeout=60)
    assert backend.swap_path in e.value.message
    assert opener.seen == digest(backend.swap_path)


def test_a_loop_device_attached_meanwhile_stops_the_benchmark(
    backend: FileBackend, loops: Callable[..., str]
) -> None:
    devs: list[str] = []
    attach = threading.Thread(target=lambda: devs.append(loops(Path(backend.swap_path))))
    with pytest.raises(OpenedMeanwhileError, match="opened .* while swapadmin wrote it"):
        pageio.benchmark(
            backend,
            seconds=2,
            progress=after_phase(2, open_waits_on(backend.swap_path, attach.start)),
        )
    attach.join(timeout=60)
    assert devs, "losetup went on once the benchmark let go"
    # And a later job refuses the file while the device serves it.
    backend.close()
    with rebuilt(backend) as again, pytest.raises(NotOursError, match="is attached to"):
        pageio.benchmark(again, seconds=1)


def test_a_scan_writes_nothing_after_another_open_returns(backend: FileBackend) -> None:
    opener = Opener(backend.swap_path)
    asked: list[int] = []

    def cancel() -> bool:
        # Asked before each run is queued: the second time, the first pass is under way.
        asked.append(1)
        if len(asked) == 2:
            open_waits_on(backend.swap_path, opener.start)()
        return False

    with pytest.raises(OpenedMeanwhileError, match="opened .* while swapadmin wrote it"):
        pageio.scan(backend, patterns=4, cancel=cancel)
    opener.join(timeout=60)
    assert opener.seen == digest(backend.swap_path)
    with rebuilt(backend) as again:
        assert header.read_header(again).label == "long"


def test_a_file_open_elsewhere_is_refused_before_a_byte(backend: FileBackend) -> None:
    before = digest(backend.swap_path)
    with open(backend.swap_path, "rb"), pytest.raises(BusyError, match="is open elsewhere"):
        pageio.benchmark(backend, seconds=1)
    assert digest(backend.swap_path) == before


def test_a_cancelled_benchmark_writes_nothing(backend: FileBackend) -> None:
    before = digest(backend.swap_path)
    with pytest.raises(pageio.PageIOCancelled, match="the header was not changed"):
        pageio.benchmark(backend, seconds=60, cancel=lambda: True)
    assert digest(backend.swap_path) == before
