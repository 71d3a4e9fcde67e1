"""The faulty device is a real block device: O_DIRECT reads and writes of the chosen pages
fail with EIO, every other page works, through the loop device in either I/O mode."""

from __future__ import annotations

import errno
import mmap
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from backends.base import PAGE_SIZE
from tests.fixtures.faulty import faulty_device, page_spec
from tests.fixtures.host import attached_loops, mounts_under, needs_root
from tests.fixtures.workers import wait_until

PAGES = 1024
BAD = {100, 101, 102, 103, 700, PAGES - 1}


def _io(dev: str, page: int, *, write: bool) -> int:
    """0 when one O_DIRECT page transfer at ``page`` works, else its errno."""
    buf = mmap.mmap(-1, PAGE_SIZE)
    buf.write(bytes([page % 251]) * PAGE_SIZE)
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT | os.O_CLOEXEC)
    try:
        if write:
            os.pwritev(fd, [buf], page * PAGE_SIZE)
        else:
            os.preadv(fd, [buf], page * PAGE_SIZE)
    except OSError as e:
        return e.errno or -1
    finally:
        os.close(fd)
    return 0


def test_page_spec_joins_runs() -> None:
    assert page_spec([700, 101, 100, 103, 102, 5, 700]) == "5,100-103,700"
    assert page_spec([]) == ""


@needs_root
@pytest.mark.parametrize("direct_io", [False, True], ids=["loop-buffered", "loop-dio"])
def test_it_fails_exactly_the_chosen_pages(scratch: Path, direct_io: bool) -> None:
    with faulty_device(scratch, PAGES * PAGE_SIZE, BAD, direct_io=direct_io) as dev:
        assert dev.startswith("/dev/loop")
        with open(f"/sys/block/{Path(dev).name}/loop/dio") as f:
            assert f.read().strip() == ("1" if direct_io else "0")
        for page in range(PAGES):
            want = errno.EIO if page in BAD else 0
            assert _io(dev, page, write=True) == want, f"write of page {page}"
            assert _io(dev, page, write=False) == want, f"read of page {page}"


@needs_root
def test_a_transfer_spanning_a_bad_page_fails_whole(
    make_faulty_device: Callable[..., str],
) -> None:
    dev = make_faulty_device(PAGES * PAGE_SIZE, [700])
    buf = mmap.mmap(-1, 16 * PAGE_SIZE)
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT | os.O_CLOEXEC)
    try:
        with pytest.raises(OSError) as caught:
            os.preadv(fd, [buf], 690 * PAGE_SIZE)
        assert caught.value.errno == errno.EIO
        assert os.preadv(fd, [buf], 701 * PAGE_SIZE) == len(buf)
    finally:
        os.close(fd)


@needs_root
@pytest.mark.parametrize(
    ("fail", "read_err", "write_err"), [("r", errno.EIO, 0), ("w", 0, errno.EIO)]
)
def test_it_fails_only_the_chosen_direction(
    scratch: Path, fail: str, read_err: int, write_err: int
) -> None:
    with faulty_device(scratch, PAGES * PAGE_SIZE, {300}, fail=fail) as dev:
        assert (_io(dev, 300, write=False), _io(dev, 300, write=True)) == (read_err, write_err)
        assert (_io(dev, 299, write=False), _io(dev, 301, write=True)) == (0, 0)


@needs_root
def test_it_leaves_nothing_behind_when_the_test_fails(scratch: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        faulty_device(scratch, PAGES * PAGE_SIZE, {5}) as dev,
    ):
        raise RuntimeError("boom")
    assert dev not in attached_loops()
    assert mounts_under(str(scratch)) == []
    assert not any(Path(f).is_relative_to(scratch) for f in attached_loops().values())


def _faultyfs_pid(dev: str) -> int:
    """The faultyfs process serving ``dev``'s backing file, found by its mount point."""
    backing = Path(f"/sys/block/{Path(dev).name}/loop/backing_file").read_text().strip()
    mnt = os.fsencode(str(Path(backing).parent))
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if Path(os.fsdecode(argv[0])).name.startswith("faultyfs") and mnt in argv:
            return int(proc.name)
    raise AssertionError(f"no faultyfs process serves {backing}")


def _dead(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie, or gone): its files are closed."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] in (b"Z", b"X")
    except FileNotFoundError:
        return True


@needs_root
def test_it_leaves_nothing_behind_when_faultyfs_dies(scratch: Path) -> None:
    with faulty_device(scratch, PAGES * PAGE_SIZE, {5}) as dev:
        pid = _faultyfs_pid(dev)
        os.kill(pid, signal.SIGKILL)
        # Dead (a zombie until the fixture reaps it): its /dev/fuse is closed by then.
        wait_until(lambda: _dead(pid), 10, f"faultyfs ({pid}) to die")
        # A dead server is a dead disk: every page fails now, none hangs.
        assert _io(dev, 6, write=False) != 0
    assert dev not in attached_loops()
    assert mounts_under(str(scratch)) == []
