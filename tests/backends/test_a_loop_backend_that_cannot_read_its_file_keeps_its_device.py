"""A loop backend whose backing file cannot be opened keeps its loop device.

Releasing the device (disable, destroy) first proves through the backing file which loop
device serves it. A file that could not be opened at all (EMFILE, EIO, EACCES) was read as
"the file is gone or not ours": the device was forgotten and never detached. It went on
serving the file, and swapping on it when active, while the backend, left without a device,
said the area was not active: a deactivate reported "already inactive" and a destroy
skipped its swapoff. Asked whether its device was attached (``describe``), the backend said
"no" for the same reason.

Only a file that is gone, or that proves not to be this backend's, lets the device go now;
any other failure is raised, naming it, and nothing changes.

The worker out of descriptors is real (RLIMIT_NOFILE lowered to the lowest free one, for
the one call). The EIO is not: no filesystem this VM can put a swap root on fails an open
with EIO (and root is never refused one for its mode), so ``os.open`` is made to fail for
the backing file's own name opened in its directory (as ``safepath.open_regular`` opens
it), and for nothing else, while the backend is asked.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backends import kernel
from backends.errors import KernelError
from backends.policy import Policy
from tests.fixtures.host import attached_loops, needs_root, run
from tests.fixtures.stores import made_loop, rebuilt_loop

pytestmark = [pytest.mark.root, needs_root]

MiB = 1 << 20


@contextlib.contextmanager
def _out_of_descriptors() -> Iterator[None]:
    """Every open in this process fails with EMFILE (RLIMIT_NOFILE at the lowest free
    descriptor), as in a worker that has run out of them; the limit is put back after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowest = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    os.close(lowest)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowest, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _eio_opening(name: str) -> Callable[..., int]:
    """``os.open`` failing with EIO for ``name`` opened relative to a directory, as
    ``safepath.open_regular`` opens a swap file; every other open goes through."""
    real = os.open

    def opening(path: object, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if path == name and dir_fd is not None:
            raise OSError(errno.EIO, os.strerror(errno.EIO), name)
        return real(path, flags, mode, dir_fd=dir_fd)  # type: ignore[arg-type]

    return opening


def test_an_active_area_stays_known_to_a_worker_out_of_descriptors(
    swap_root: Path, policy: Policy
) -> None:
    made = made_loop(swap_root, policy)
    dev = made.state["device"]
    path = str(swap_root / "swap0")
    job = rebuilt_loop(made)  # the deactivate or destroy job's plugin
    store = job.open_for_swapon()
    try:
        kernel.swapon(dev, fd=store.fd)
    finally:
        store.close()
    try:
        with _out_of_descriptors(), pytest.raises(KernelError) as raised:
            job.swapfile(False)
        assert raised.value.errno == errno.EMFILE, raised.value
        assert "Too many open files" in raised.value.message
        assert job.state["device"] == dev and job.swap_path == dev
        assert job.is_active() and kernel.is_active(dev)
        assert attached_loops().get(dev) == path
    finally:
        run("swapoff", dev, check=False)
    job.swapfile(False)  # with descriptors again: detached for real
    assert "device" not in job.state
    assert attached_loops().get(dev) != path


def test_a_file_that_fails_to_open_keeps_its_device(
    swap_root: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = made_loop(swap_root, policy)
    dev = made.state["device"]
    path = str(swap_root / "swap0")
    job = rebuilt_loop(made)
    try:
        with monkeypatch.context() as m:
            m.setattr(os, "open", _eio_opening("swap0"))
            with pytest.raises(KernelError, match=f"cannot open {path}: Input/output error"):
                job.swapfile(False)
            assert job.state["device"] == dev and attached_loops().get(dev) == path
            # Whether it is attached cannot be told either: not "not attached".
            with pytest.raises(KernelError, match="Input/output error"):
                job.describe()
    finally:
        job.swapfile(False)
    assert "device" not in job.state
    assert attached_loops().get(dev) != path
