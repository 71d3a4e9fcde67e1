"""A faulty device's take-down detaches its loop device only while that is still the one
made over the served file (review 197/10). Detached already by the test, the name may be
another's loop device by then (``losetup --find`` hands out the lowest free one), and the
take-down detached that one, by its name."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.fixtures.faulty import faulty_device
from tests.fixtures.host import loop_serves, needs_root, run

pytestmark = pytest.mark.root

SIZE = 16 << 20


def _wait_detached(dev: str) -> None:
    backing = Path("/sys/block", Path(dev).name, "loop", "backing_file")
    deadline = time.monotonic() + 5.0
    while backing.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not backing.exists(), f"{dev} stayed attached after losetup -d"


@needs_root
def test_a_loop_device_the_test_detached_and_another_took_is_left(scratch: Path) -> None:
    with open(scratch / "other.img", "wb") as f:
        f.truncate(SIZE)
        made = os.fstat(f.fileno())
    other = (made.st_dev, made.st_ino)
    taken = None
    try:
        with faulty_device(scratch, SIZE, []) as dev:
            run("losetup", "-d", dev)
            _wait_detached(dev)
            run("losetup", dev, str(scratch / "other.img"))  # another's, at the same name
            taken = dev
        assert loop_serves(taken, other), f"{taken}, another's by then, was detached"
    finally:
        if taken is not None and loop_serves(taken, other):
            run("losetup", "-d", taken, check=False)
