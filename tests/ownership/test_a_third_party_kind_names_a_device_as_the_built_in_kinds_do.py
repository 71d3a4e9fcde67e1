"""A kind that leaves opening its store to the contract's default (a third party's) names a
block device's bytes exactly as the block and loop kinds do: the same key and the same
overlaps. The control plane finds a clash only between equal names, so a default that spelt
a device its own way (its bare device number) would let a third-party backend and a block
or loop backend on the same disk write over each other."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from backends import store as store_mod
from backends.base import SwapBackend
from backends.plugins.block import BlockBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root, run
from tests.fixtures.plain_kind import PlainFile
from tests.ownership.conftest import MiB

pytestmark = [pytest.mark.root, needs_root]


def names(backend: SwapBackend) -> tuple[str, frozenset[str], frozenset[str]]:
    """The key and overlaps of the backend's store, and the overlaps it records of it (which
    the control plane reads to see a clash from the other side)."""
    store = backend.open_store(writable=False)
    try:
        recorded = backend.identity(store).get("overlaps")
        return store.key, frozenset(store.overlaps), frozenset(recorded or ())
    finally:
        store.close()


def third_party(path: str) -> tuple[str, frozenset[str], frozenset[str]]:
    return names(PlainFile({"path": path}, owner=str(uuid.uuid4())))


def block(path: str, policy: Policy) -> tuple[str, frozenset[str], frozenset[str]]:
    return names(BlockBackend({"device": path}, policy=policy, owner=str(uuid.uuid4())))


def test_a_partitioned_loop_disk_and_its_partition(
    scratch: Path, policy: Policy, loops: Callable[..., str]
) -> None:
    image = scratch / "disk.img"
    with open(image, "wb") as f:
        f.truncate(64 * MiB)
    run("sfdisk", "-q", str(image), input="label: gpt\n2048,32768,S\n,,S\n")
    disk = loops(image, partitions=True)

    # A loop disk is its backing file: the key a file or loop backend on it records.
    whole = third_party(disk)
    assert whole == block(disk, policy)
    key = store_mod.file_identity(os.stat(image))
    overlaps = {f"{key}:part1", f"{key}:part2"}
    assert whole == (key, overlaps, overlaps)

    part = third_party(f"{disk}p1")
    assert part == block(f"{disk}p1", policy)
    assert part == (f"{key}:part1", {key}, {key})


def test_a_file_is_named_by_its_inode(scratch: Path) -> None:
    path = scratch / "area"
    path.write_bytes(b"\0" * (1 * MiB))
    key = store_mod.file_identity(os.stat(path))
    assert third_party(str(path)) == (key, frozenset(), frozenset())
