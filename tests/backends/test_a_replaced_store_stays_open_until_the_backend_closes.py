"""A backend that first read its store and then writes to it opens the store again for
writing, and the read-only one is replaced. Page I/O runs on several threads, each holding
the descriptor it was handed: a replaced store closed at once gave a thread EBADF in the
middle of a scan (seen in a full run: a refusal surfaced as "Bad file descriptor"), and a
descriptor number the kernel hands to another file meanwhile would take that thread's write
to that file. The replaced store stays open, on the same file, until the backend closes."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from backends.base import PAGE_SIZE, aligned_buffer
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.stores import provisioned, rebuilt

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20


def test_the_read_descriptor_outlives_the_upgrade_to_a_writable_one(
    swap_root: Path, policy: Policy
) -> None:
    made = provisioned(
        "file", {"path": str(swap_root / "s0")}, size=16 * MiB, policy=policy,
        owner=str(uuid.uuid4()),
    )  # fmt: skip
    made.close()
    file = os.stat(swap_root / "s0")
    backend = rebuilt(made)
    try:
        read_fd = backend.descriptor(False)
        write_fd = backend.descriptor(True)
        assert write_fd != read_fd, "the writable store is a new descriptor"

        # Another thread still in its read, after the upgrade: the same file, still open.
        held = os.fstat(read_fd)
        assert (held.st_dev, held.st_ino) == (file.st_dev, file.st_ino)
        page = aligned_buffer(1)  # the descriptor may be O_DIRECT
        assert os.preadv(read_fd, [page], PAGE_SIZE) == PAGE_SIZE
        assert backend.swap_in(1) == bytes(page)
    finally:
        backend.close()

    # Closed with the backend: the number names nothing, or something else by now.
    try:
        after = os.fstat(read_fd)
    except OSError:
        return
    assert (after.st_dev, after.st_ino) != (file.st_dev, file.st_ino)
