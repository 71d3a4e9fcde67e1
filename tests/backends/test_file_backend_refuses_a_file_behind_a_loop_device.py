"""A file that backs a loop device someone attached by hand is reachable through that device
too: anyone may swap on it or mount it at any moment, whatever swapadmin checks on the file.
So a file backend writes nothing to its own file while a loop device serves it (benchmark,
scan, mkswap, resize all refuse and leave it byte for byte), and a file active as swap
behind a loop device is active as far as the store's proof is concerned (its bytes change
only by what the kernel itself swaps out to it). The command line
refuses such a file the same way. A loop backend writes through its own device only: a
second loop device over its file stops its writes too."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from backends import SwapBackend, header, pageio
from backends import store as store_mod
from backends.errors import ActiveAreaError, NotOursError
from backends.policy import Policy
from tests.backends.test_cli_inspect_reads_headers import allocated
from tests.backends.test_cli_list_kinds import cli, one_line_refusal
from tests.fixtures.by_hand import attached
from tests.fixtures.host import attached_loops, needs_root, run
from tests.fixtures.stores import provisioned, rebuilt
from tests.ownership.conftest import digest

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20
SIZE = 16 * MiB

WRITES: dict[str, Callable[[SwapBackend], object]] = {
    "benchmark": lambda b: pageio.benchmark(b, seconds=0.2),
    "scan": lambda b: pageio.scan(b, patterns=1),
    "mkswap": lambda b: header.mkswap(b, label="again"),
    "resize": lambda b: b.resize(2 * SIZE),
}


def changed_pages(before: bytes, after: bytes) -> list[int]:
    """The offsets of the pages that differ between ``before`` and ``after``."""
    return [
        i
        for i in range(0, max(len(before), len(after)), 4096)
        if before[i : i + 4096] != after[i : i + 4096]
    ]


def pages_swapped_out() -> int:
    """Pages the kernel has written to swap since boot (``pswpout``, to any area)."""
    for line in Path("/proc/vmstat").read_text().splitlines():
        name, _, value = line.partition(" ")
        if name == "pswpout":
            return int(value)
    raise AssertionError("/proc/vmstat has no pswpout")


def _file_backend(swap_root: Path, policy: Policy) -> SwapBackend:
    """A file backend as its provision left it (made, marked, formatted), closed."""
    made = provisioned(
        "file", {"path": str(swap_root / "s0")}, size=SIZE, policy=policy, owner=str(uuid.uuid4())
    )
    made.close()
    return made


@pytest.mark.parametrize("write", list(WRITES))
def test_no_write_while_a_loop_device_serves_the_file(
    swap_root: Path, policy: Policy, write: str
) -> None:
    made = _file_backend(swap_root, policy)
    path = swap_root / "s0"
    with attached(path) as dev:
        before = digest(path)
        later = rebuilt(made)  # the job's plugin
        with pytest.raises(NotOursError, match=f"is attached to {dev}: its bytes are reachable"):
            WRITES[write](later)
        later.close()
        assert digest(path) == before
        assert path.stat().st_size == SIZE
    # Detached, the backend is its own again: the same write goes through.
    again = rebuilt(made)
    WRITES[write](again)
    again.close()


@pytest.mark.parametrize("write", list(WRITES))
def test_no_write_while_the_file_is_swap_behind_a_loop_device(
    swap_root: Path, policy: Policy, write: str
) -> None:
    made = _file_backend(swap_root, policy)
    path = swap_root / "s0"
    with attached(path) as dev:
        run("swapon", dev)
        swapped = pages_swapped_out()
        before = path.read_bytes()
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            assert store_mod.active_path(fd) == dev
        finally:
            os.close(fd)
        later = rebuilt(made)
        with pytest.raises((ActiveAreaError, NotOursError), match=dev) as refused:
            WRITES[write](later)
        later.close()
        assert "active in /proc/swaps" in str(refused.value) or "is attached" in str(refused.value)
        after = path.read_bytes()
        # The area is live swap: the kernel itself may write memory to it meanwhile (seen
        # once, in a whole suite, for ``resize``). Whatever it wrote is no more pages than it
        # swapped out (to any area: this one is the suite's only), never the header, and no
        # page of a scan's pattern. A refused write that went through would change the
        # header (mkswap), the size (resize), a pattern's pages (scan), or thousands of
        # pages (a benchmark's 0.2 s).
        changed = changed_pages(before, after)
        by_kernel = pages_swapped_out() - swapped
        where = f"pages changed at {changed[:16]}; the kernel swapped out {by_kernel} pages"
        assert len(after) == len(before), where
        assert 0 not in changed, where
        assert len(changed) <= by_kernel, where
        patterns = {bytes([value]) * 4096 for value in pageio.PATTERNS}
        assert not [i for i in changed if after[i : i + 4096] in patterns], where


def test_a_file_is_not_active_once_its_loop_device_is_swapped_off(
    swap_root: Path, policy: Policy
) -> None:
    _file_backend(swap_root, policy)
    path = swap_root / "s0"
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with attached(path) as dev:
            run("swapon", dev)
            assert store_mod.active_path(fd) == dev
            run("swapoff", dev)
            assert store_mod.active_path(fd) is None
    finally:
        os.close(fd)


def test_a_loop_backend_writes_only_through_its_own_device(swap_root: Path, policy: Policy) -> None:
    path = swap_root / "s0"
    made = provisioned("loop", {"path": str(path)}, size=SIZE, policy=policy)
    made.close()
    ours = made.state["device"]
    try:
        with attached(path) as other:
            before = digest(path)
            later = rebuilt(made)
            with pytest.raises(NotOursError, match=f"is attached to {other}:"):
                pageio.benchmark(later, seconds=0.2)
            later.close()
            assert digest(path) == before
        later = rebuilt(made)
        pageio.benchmark(later, seconds=0.2)  # its own device alone: fine
        later.close()
    finally:
        rebuilt(made).swapfile(False)
    assert attached_loops().get(ours) != str(path)


@pytest.mark.parametrize(
    "command",
    [["mkswap", "--label", "cli"], ["scan", "--patterns", "1"], ["benchmark", "--seconds", "0.2"]],
    ids=lambda c: c[0],
)
def test_the_command_line_refuses_a_file_behind_a_loop_device(
    swap_root: Path, command: list[str]
) -> None:
    area = allocated(swap_root / "area")
    run("mkswap", "-q", "-L", "theirs", str(area))  # a swap file the command line would take
    with attached(area) as dev:
        before = digest(area)
        one_line_refusal(cli(command[0], str(area), *command[1:]), f"is attached to {dev}")
        assert digest(area) == before
