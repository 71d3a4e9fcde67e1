"""A probe stuck on a device that does not answer is given up on, not waited for.

wipefs, blkid and the libblkid probe behind the block kind's "holds data" check read
devices. On a device that stops answering they wait in state D, which SIGKILL does not end
until the I/O does; subprocess.run killed such a probe at its
timeout and then waited for it without limit, so the job (and the worker's slot) waited
with the device (review 148/2). The device here really stops answering: the FUSE server
behind a loop device is stopped (SIGSTOP), and the probe reading it sleeps in the kernel.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

import pytest

from backends import names, wipefs
from backends.errors import KernelError
from tests.fixtures.faulty import server_pid
from tests.fixtures.host import needs_root

#: How long the test waits for the refusal: far beyond the probe's timeout and the reap's,
#: and far short of forever, which is what the probe takes while the device is stopped.
PATIENCE = 60.0


def _probes(fd: int) -> dict[str, Callable[[str], object]]:
    return {
        "wipefs": wipefs.signatures,
        "blkid": lambda dev: names._by_blkid("LABEL", "swapadmin-test-nowhere"),
        # The provision's check, on a descriptor opened as the block kind opens its store.
        "read-whole": lambda dev: wipefs.signatures_read_whole(fd, dev),
    }


@needs_root
@pytest.mark.parametrize("probe", ["wipefs", "blkid", "read-whole"])
def test_the_probe_is_given_up_on_while_the_device_still_sleeps(
    make_faulty_device: Callable[..., str], monkeypatch: pytest.MonkeyPatch, probe: str
) -> None:
    dev = make_faulty_device(64 << 20, [])
    # The probe never finishes while the server is stopped, so a short timeout decides
    # nothing about speed; it only keeps the test short.
    monkeypatch.setattr(wipefs, "TIMEOUT", 1.0)
    monkeypatch.setattr(names, "_BLKID_TIMEOUT", 1.0)
    server = server_pid(dev)
    raised: list[BaseException] = []
    # Opened before the device stops, and closed only once it answers again: the last
    # close of a block device waits for the reads still in flight (the killed probe's),
    # which on a real disk end with its own I/O timeout, and here never would.
    store = os.open(dev, os.O_RDONLY | os.O_DIRECT | os.O_CLOEXEC)

    def run() -> None:
        try:
            _probes(store)[probe](dev)
        except BaseException as e:  # noqa: BLE001 - handed to the test's thread
            raised.append(e)

    os.kill(server, signal.SIGSTOP)
    thread = threading.Thread(target=run, daemon=True)
    try:
        thread.start()
        thread.join(PATIENCE)
        assert not thread.is_alive(), f"{probe} was waited for while the device slept"
    finally:
        os.kill(server, signal.SIGCONT)  # the stuck probe ends, and the device goes
        thread.join()
        os.close(store)
    assert len(raised) == 1 and isinstance(raised[0], KernelError), raised
    assert "within 1 s" in str(raised[0])
