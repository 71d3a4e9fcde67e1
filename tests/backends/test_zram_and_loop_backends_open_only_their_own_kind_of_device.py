"""The device a loop or zram backend's state names is opened for real only once it proves
to be a block device of the kind's own major (loop: 7; zram: the major /proc/devices gives
the zram driver), looked at first through an O_PATH descriptor, which runs no driver. A
FIFO there (a plain open would block the worker for good) or a character device (opening a
watchdog arms it) is refused at once, naming the problem; so is another kind's block
device. Each open runs on a thread the test waits on for a bounded time: a blocked open
fails the test instead of hanging it (the FIFO is then opened from the other end to let
it go)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backends.errors import NotOursError
from backends.plugins.loop import LoopBackend
from backends.plugins.zram import ZramBackend, boot_id
from backends.policy import Policy
from tests.backends.test_cli_inspect_reads_headers import allocated
from tests.fixtures.host import needs_root

pytestmark = [pytest.mark.root, needs_root]

SIZE = 16 << 20
WAIT_SECONDS = 10


@pytest.fixture
def fifo(scratch: Path) -> Iterator[str]:
    path = scratch / "fifo"
    os.mkfifo(path, 0o600)
    yield str(path)


def outcome_within(call: Callable[[], Any], fifo: str) -> BaseException | None:
    """What ``call`` raised (None if it returned), on a thread given WAIT_SECONDS; a call
    still blocked then is let go by opening the FIFO's other end, and the test fails."""
    caught: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            caught.append(e)
        else:
            caught.append(None)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(WAIT_SECONDS)
    if t.is_alive():
        os.close(os.open(fifo, os.O_RDWR | os.O_NONBLOCK))  # releases a blocked reader
        t.join(WAIT_SECONDS)
        pytest.fail(f"the open blocked for {WAIT_SECONDS} s on what the state names")
    return caught[0]


def zram_naming(dev: str, policy: Policy) -> ZramBackend:
    """A zram backend whose state (of this boot, with a recorded identity) names ``dev``."""
    record = {"devnum": "252:99", "diskseq": "1", "boot_id": boot_id(), "key": "zram:x"}
    state = {"device": dev, "boot_id": boot_id(), "store": record}
    return ZramBackend({}, size_bytes=SIZE, policy=policy, state=state, owner=str(uuid.uuid4()))


def loop_naming(dev: str, swap_root: Path, policy: Policy) -> LoopBackend:
    """A loop backend over a real file under the swap root whose state names ``dev``."""
    path = allocated(swap_root / f"s-{uuid.uuid4().hex[:8]}")
    return LoopBackend(
        {"path": str(path)}, size_bytes=path.stat().st_size, policy=policy,
        state={"device": dev}, owner=str(uuid.uuid4()),
    )  # fmt: skip


@pytest.mark.parametrize("writable", [False, True], ids=["read", "write"])
def test_zram_refuses_a_fifo_or_a_character_device(fifo, policy, writable) -> None:
    for dev, why in ((fifo, "is not a block device"), ("/dev/null", "is not a block device")):
        error = outcome_within(lambda d=dev: zram_naming(d, policy).open_store(writable), fifo)
        assert isinstance(error, NotOursError), error
        assert f"{dev} {why}, so not a zram device: it was not opened" in error.message


def test_zram_refuses_a_loop_device(loop_device, fifo, policy) -> None:
    error = outcome_within(lambda: zram_naming(loop_device, policy).open_store(False), fifo)
    assert isinstance(error, NotOursError), error
    assert f"{loop_device} is a block device of major 7, not a zram device" in error.message


@pytest.mark.parametrize("writable", [False, True], ids=["read", "write"])
def test_loop_refuses_a_fifo_or_a_character_device(fifo, swap_root, policy, writable) -> None:
    for dev in (fifo, "/dev/null"):
        backend = loop_naming(dev, swap_root, policy)
        error = outcome_within(lambda b=backend: b.open_store(writable), fifo)
        assert isinstance(error, NotOursError), error
        assert f"{dev} is not a block device, so not a loop device: it was not" in error.message
        # What the sampler asks (is it attached?) opens nothing either.
        assert outcome_within(lambda b=backend: b.describe(), fifo) is None
        assert backend.describe()["attached"] is False


def test_loop_refuses_a_block_device_of_another_major(fifo, swap_root, policy) -> None:
    # The zram driver's major, read from /proc/devices; a node of our own under scratch,
    # never opened (O_PATH alone), so no device of anyone's is touched.
    from backends.plugins.zram import zram_major

    major = zram_major()
    if major is None:
        pytest.skip("the zram module is not loaded")
    node = Path(fifo).with_name("not-a-loop")
    os.mknod(node, 0o600 | 0o060000, os.makedev(major, 250))
    error = outcome_within(
        lambda: loop_naming(str(node), swap_root, policy).open_store(False), fifo
    )
    assert isinstance(error, NotOursError), error
    assert f"{node} is a block device of major {major}, not a loop device" in error.message
