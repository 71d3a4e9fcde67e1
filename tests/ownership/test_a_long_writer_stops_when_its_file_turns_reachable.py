"""A benchmark or a scan proves its file is its own before the first write; a sysadmin may
still attach a loop device over the file while it runs (and swap on it), which no open flag
stops. Both look at the open store again before every slice of their work: the benchmark
stops before its next phase writes a byte, the scan by its next pass, each naming the loop
device; the header is as it was. A benchmark also stops when its caller cancels it, before
a write."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backends import header, pageio
from backends.errors import ActiveAreaError, NotOursError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run
from tests.fixtures.stores import provisioned, rebuilt
from tests.ownership.conftest import MiB, digest

pytestmark = needs_root


@pytest.fixture
def backend(swap_root: Path, policy: Policy) -> Iterator[FileBackend]:
    """A later job's plugin for a provisioned 16 MiB file."""
    path = str(swap_root / "long.swap")
    with provisioned("file", {"path": path}, size=16 * MiB, policy=policy, label="long") as made:
        pass
    plugin = rebuilt(made)
    assert isinstance(plugin, FileBackend)
    try:
        yield plugin
    finally:
        plugin.close()
        for dev in run("losetup", "-j", path).stdout.splitlines():
            run("swapoff", dev.split(":")[0], check=False)
        plugin.swapfile(False)


def after_phase(n: int, act: Callable[[], None]) -> pageio.ProgressFn:
    """A benchmark progress callback that does ``act`` once phase ``n`` (1 to 4) is done."""
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if len(seen) == n:
            act()

    return progress


@pytest.mark.parametrize("swapped_on", [False, True], ids=["attached", "swapped-on"])
def test_a_benchmark_stops_before_its_next_phase_writes(
    backend: FileBackend, loops: Callable[..., str], swapped_on: bool
) -> None:
    path = Path(backend.swap_path)
    at: dict[str, str] = {}

    def attach() -> None:
        dev = loops(path)
        if swapped_on:
            run("swapon", "--priority", "-2", dev)  # the lowest: the host's own swap fills first
        at.update(dev=dev, digest=digest(path))

    # Phase 2 reads; phase 3, the first random write, is the one that must not begin.
    refused = ActiveAreaError if swapped_on else NotOursError
    with pytest.raises(refused) as e:
        pageio.benchmark(backend, seconds=2, progress=after_phase(2, attach))
    assert at["dev"] in e.value.message
    if not swapped_on:  # once swapped on, the kernel may write its pages; we never do
        assert digest(path) == at["digest"]


def test_a_scan_stops_by_its_next_pass(backend: FileBackend, loops: Callable[..., str]) -> None:
    devs: list[str] = []
    asked: list[int] = []

    def cancel() -> bool:
        # Asked before each run is queued: the second time, the first pass is under way.
        asked.append(1)
        if len(asked) == 2:
            devs.append(loops(Path(backend.swap_path)))
        return False

    with pytest.raises(NotOursError, match="is attached to") as e:
        pageio.scan(backend, patterns=4, cancel=cancel)
    assert devs and devs[0] in e.value.message
    with rebuilt(backend) as again:
        assert header.read_header(again).label == "long"


def test_a_cancelled_benchmark_writes_nothing(backend: FileBackend) -> None:
    before = digest(backend.swap_path)
    with pytest.raises(pageio.PageIOCancelled, match="the header was not changed"):
        pageio.benchmark(backend, seconds=60, cancel=lambda: True)
    assert digest(backend.swap_path) == before
