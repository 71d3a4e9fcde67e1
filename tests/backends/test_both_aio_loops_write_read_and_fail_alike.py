"""The benchmark's two native AIO loops, the C one that an installed tree runs and the Python
one a tree never installed falls back to, do the same thing: a write phase lands on the
pages of its pattern and on no other (never the header), a read phase counts what it read,
``check`` runs before the first request in every engine (so a check that refuses means
nothing was written), and a store cut short under them is an error naming the path and the
byte. The C loop itself refuses arguments that would let it reach outside its buffers or the
area (slot 0 included), and submits nothing once its file lease is broken; a lease is not
granted while the file is open elsewhere."""

from __future__ import annotations

import array
import errno
import fcntl
import logging
import mmap
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from backends import pageio
from backends.base import PAGE_SIZE
from backends.errors import BackendError, BusyError, KernelError, OpenedMeanwhileError
from backends.plugins.file import FileBackend
from backends.policy import Policy
from tests.fixtures.host import needs_root
from tests.fixtures.stores import later_file
from tests.fixtures.workers import wait_until

SIZE = 4 * 1024 * 1024
PAGES = SIZE // PAGE_SIZE
ENGINES = [pageio._CEngine, pageio._AioEngine]
ALL_ENGINES = [*ENGINES, pageio._ThreadEngine]


class Refused(Exception):
    pass


@pytest.fixture
def backend(swap_root: Path, policy: Policy) -> Iterator[FileBackend]:
    with later_file(str(swap_root / "loops.swap"), size=SIZE, policy=policy) as plugin:
        yield plugin


def phase(
    *,
    write: bool,
    run_pages: int,
    random: bool,
    depth: int,
    seconds: float,
    check: pageio.CheckFn = lambda: None,
    lease: pageio.FileLease | None = None,
) -> pageio._Phase:
    """A phase over the test's area of PAGES pages, as the benchmark builds one."""
    pattern = pageio._Pattern.over(PAGES, run_pages, random=random)
    return pageio._Phase(write, pattern, depth, seconds, check, lease, PAGES)


def pages_of(path: str) -> list[bytes]:
    with open(path, "rb") as f:
        data = f.read()
    return [data[i : i + PAGE_SIZE] for i in range(0, len(data), PAGE_SIZE)]


@needs_root
def test_an_installed_tree_benchmarks_with_the_c_loop(backend: FileBackend) -> None:
    assert pageio._aioloop is not None, "make installs the package, which builds the C loop"
    assert pageio.benchmark(backend, seconds=0.4).engine == "linux-aio"


@needs_root
@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_a_sequential_write_lands_on_its_pages_and_no_other(
    backend: FileBackend, engine: type[pageio._Engine]
) -> None:
    before = pages_of(backend.swap_path)
    checks: list[int] = []
    got = engine(backend).run(
        phase(
            write=True,
            run_pages=1,
            random=False,
            depth=8,
            seconds=0.3,
            check=lambda: checks.append(1),
        )
    )
    after = pages_of(backend.swap_path)
    changed = {i for i in range(PAGES) if after[i] != before[i]}
    # Slots from 1 up, wrapping past the last: every page the ops reached, and only those.
    assert got.ops >= 1 and checks
    assert changed == set(range(1, 1 + min(got.ops, PAGES - 1)))
    assert after[0] == before[0]
    assert len(got.latencies_ns) == got.ops and min(got.latencies_ns) > 0


@needs_root
@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_a_random_read_counts_what_it_read(
    backend: FileBackend, engine: type[pageio._Engine]
) -> None:
    before = pages_of(backend.swap_path)
    got = engine(backend).run(
        phase(
            write=False,
            run_pages=2,
            random=True,
            depth=4,
            seconds=0.2,
        )
    )
    assert got.ops >= 1 and len(got.latencies_ns) == got.ops
    assert pages_of(backend.swap_path) == before


@needs_root
@pytest.mark.parametrize("engine", ALL_ENGINES, ids=lambda e: e.name)
def test_a_check_that_refuses_comes_before_any_write(
    backend: FileBackend, engine: type[pageio._Engine]
) -> None:
    before = pages_of(backend.swap_path)

    def refuse() -> None:
        raise Refused()

    with pytest.raises(Refused):
        engine(backend).run(
            phase(
                write=True,
                run_pages=1,
                random=True,
                depth=8,
                seconds=5,
                check=refuse,
            )
        )
    assert pages_of(backend.swap_path) == before


@needs_root
@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_a_store_cut_short_is_an_error_naming_path_and_byte(
    backend: FileBackend, engine: type[pageio._Engine]
) -> None:
    backend.descriptor(False)  # opened and proven while whole
    os.truncate(backend.swap_path, 0)
    with pytest.raises(KernelError, match=rf"short I/O on {backend.swap_path} at byte \d+"):
        engine(backend).run(
            phase(
                write=False,
                run_pages=1,
                random=False,
                depth=4,
                seconds=5,
            )
        )


@pytest.fixture
def scratch_file(tmp_path: Path) -> Iterator[int]:
    """A read-only descriptor on a 1 MiB file of its own."""
    path = tmp_path / "f"
    path.write_bytes(b"\0" * (1 << 20))
    fd = os.open(path, os.O_RDONLY)
    try:
        yield fd
    finally:
        os.close(fd)


def c_run(ctx: pageio._AioContext, fd: int, **over: object) -> tuple[int, int, int, int, int]:
    assert pageio._aioloop is not None
    depth = over.get("depth", 4)
    assert isinstance(depth, int)
    kw: dict[str, object] = {
        "ctx": ctx.handle.value, "fd": fd, "lease_fd": -1, "write": False,
        "data": mmap.mmap(-1, max(1, depth) * 4096),
        "nbytes": 4096, "first": 1, "runs": 255, "run_pages": 1, "pages": 256, "random": False,
        "depth": depth, "slice_ns": 50_000_000, "latencies": array.array("Q", [0] * 64),
        "state": 0,
    }  # fmt: skip
    kw.update(over)
    return pageio._aioloop.run(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("over", "named"),
    [
        ({"depth": 0}, "depth must be 1 to 256"),
        ({"depth": 257}, "depth must be 1 to 256"),
        ({"data": mmap.mmap(-1, 4096)}, "data must hold depth requests"),
        ({"nbytes": 8192}, "nbytes must be run_pages whole pages"),
        ({"first": 0}, "first must be past slot 0"),
        ({"first": 256}, "inside the area"),
        ({"runs": 0}, "runs must be at least 1"),
        ({"runs": 256}, "every run inside the area"),
        ({"run_pages": 2, "nbytes": 8192, "runs": 128}, "every run inside the area"),
        ({"pages": 1}, "pages must be 2 to 2"),
        # A run size whose bytes wrap around to one page: refused before any product.
        (
            {"first": 2**52 - 1, "run_pages": 2**52 + 1, "runs": 2, "pages": 2**48},
            "run_pages must be 1 to 65536",
        ),
        ({"random": True, "state": 0}, "state must not be 0"),
        ({"latencies": array.array("Q", [0])}, "at least depth of them"),
        ({"latencies": array.array("I", [0] * 64)}, "8-byte items"),
    ],
)
def test_the_c_loop_refuses_what_would_reach_past_its_buffers(
    scratch_file: int, over: dict[str, object], named: str
) -> None:
    with pageio._AioContext(4) as ctx, pytest.raises(ValueError, match=named):
        c_run(ctx, scratch_file, **over)


def test_the_c_loop_reports_a_refused_submit_with_its_errno(scratch_file: int) -> None:
    with pageio._AioContext(4) as ctx:
        ops, _state, status, err, _offset = c_run(ctx, scratch_file, write=True)
    assert (ops, status, err) == (0, pageio._C_SUBMIT_FAILED, errno.EBADF)


def test_the_c_loop_reports_a_short_read_with_its_offset(scratch_file: int) -> None:
    # Runs from slot 1 of a 256-page file that the loop is told holds 300: the 256th request
    # reads past the end and gets 0 bytes; every request before it is whole. The slice is
    # long enough never to end first: the failure ends it.
    with pageio._AioContext(1) as ctx:
        ops, state, status, err, offset = c_run(
            ctx, scratch_file, depth=1, runs=299, pages=300, slice_ns=600 * 10**9,
            latencies=array.array("Q", [0] * 1024),
        )  # fmt: skip
    assert (status, err, offset) == (pageio._C_IO_FAILED, 0, 256 * 4096)
    assert ops == 255 and state == 256


def test_the_c_loop_submits_nothing_once_its_lease_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "leased"
    path.write_bytes(b"\0" * (1 << 20))
    fd = os.open(path, os.O_RDWR)
    try:
        with pageio.FileLease(fd, str(path)) as lease, pageio._AioContext(4) as ctx:
            assert c_run(ctx, fd, lease_fd=fd, slice_ns=10**6)[2] == 0  # held: it runs
            # Another open breaks the lease and waits for it; it returns once we let go.
            opener = subprocess.Popen(["cat", str(path)], stdout=subprocess.DEVNULL)
            try:
                wait_until(lease.broken, 30, "the lease breaking")
                ops, _state, status, _err, _offset = c_run(ctx, fd, lease_fd=fd)
                assert (ops, status) == (0, pageio._C_LEASE_BROKEN)
                assert opener.poll() is None, "the other open waits while the lease is held"
            finally:
                lease.__exit__(None, None, None)
                opener.wait(timeout=60)
    finally:
        os.close(fd)


def test_a_lease_is_refused_while_the_file_is_open_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "held"
    path.write_bytes(b"\0" * 4096)
    fd = os.open(path, os.O_RDWR)
    other = os.open(path, os.O_RDONLY)
    try:
        with (
            pytest.raises(BusyError, match="is open elsewhere"),
            pageio.FileLease(fd, str(path)),
        ):
            pass
    finally:
        os.close(other)
        os.close(fd)


@needs_root
@pytest.mark.parametrize("engine", ALL_ENGINES, ids=lambda e: e.name)
def test_every_engine_stops_at_a_broken_lease_and_the_open_waits_for_it(
    backend: FileBackend, engine: type[pageio._Engine]
) -> None:
    before = pages_of(backend.swap_path)
    fd = backend.descriptor_alone()
    opener: subprocess.Popen[bytes] | None = None
    with pageio.FileLease(fd, backend.swap_path) as lease:
        try:
            opener = subprocess.Popen(["cat", backend.swap_path], stdout=subprocess.DEVNULL)
            wait_until(lease.broken, 30, "the lease breaking")
            with pytest.raises(OpenedMeanwhileError, match="while swapadmin wrote it"):
                engine(backend).run(
                    phase(
                        write=True,
                        run_pages=1,
                        random=True,
                        depth=8,
                        seconds=30,
                        lease=lease,  # the lease alone must stop it
                    )
                )
            assert opener.poll() is None, "the other open waits while the lease is held"
        except BaseException:
            if opener is not None:
                opener.kill()
            raise
    assert opener is not None and opener.wait(timeout=60) == 0
    assert pages_of(backend.swap_path) == before


class Leased:
    """A 4 KiB file of the test's own, open read-write, with a lease on it not yet taken
    (the test enters ``lease``); ``break_it()``, inside, starts another open of the file (a
    ``cat``, which waits) and waits until the lease is breaking."""

    def __init__(self, path: Path) -> None:
        path.write_bytes(b"\0" * 4096)
        self.path = path
        self.fd = os.open(path, os.O_RDWR)
        self.lease = pageio.FileLease(self.fd, str(path))
        self.opener: subprocess.Popen[bytes] | None = None

    def break_it(self) -> None:
        self.opener = subprocess.Popen(["cat", str(self.path)], stdout=subprocess.DEVNULL)
        wait_until(self.lease.broken, 30, "the lease breaking")

    def close(self) -> None:
        """Let go of the file, and so of a lease still held however the test ended; then
        the other open goes through (a ``cat`` that does not is killed, not left)."""
        os.close(self.fd)
        if self.opener is None:
            return
        try:
            assert self.opener.wait(timeout=60) == 0, "the other open went through"
        finally:
            if self.opener.poll() is None:
                self.opener.kill()
                self.opener.wait()


@pytest.fixture
def leased(tmp_path: Path) -> Iterator[Leased]:
    made = Leased(tmp_path / "leased")
    try:
        yield made
    finally:
        made.close()


@pytest.mark.parametrize("patience", [0.0, 3600.0], ids=["kernel-gave-way", "in-time"])
@pytest.mark.parametrize("replaced", ["the-break", "another-error"])
def test_a_lease_held_past_the_kernels_patience_says_writes_may_have_landed(
    leased: Leased, monkeypatch: pytest.MonkeyPatch, patience: float, replaced: str
) -> None:
    # The sysctl is the host's: the test reads a patience of its own instead of changing it.
    monkeypatch.setattr(pageio, "_lease_break_time", lambda: patience)
    with pytest.raises(BackendError) as e, leased.lease:
        leased.break_it()
        raise leased.lease.broken_error() if replaced == "the-break" else KernelError("disk gone")
    late = "may have landed after it" in e.value.message
    assert late == (patience == 0.0)
    if late:
        assert isinstance(e.value, OpenedMeanwhileError)
        # Another error is kept; the plain break's "nothing in flight" is taken back.
        kept = "before that: KernelError: disk gone" in e.value.message
        assert kept == (replaced != "the-break")
        assert "nothing in flight" not in e.value.message


@pytest.mark.parametrize("patience", [0.0, 3600.0], ids=["kernel-gave-way", "in-time"])
def test_an_interrupt_stays_an_interrupt_but_says_the_lease_was_held_late(
    leased: Leased,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    patience: float,
) -> None:
    monkeypatch.setattr(pageio, "_lease_break_time", lambda: patience)
    with (
        caplog.at_level(logging.ERROR, "backends.pageio"),
        pytest.raises(KeyboardInterrupt) as e,
        leased.lease,
    ):
        leased.break_it()
        raise KeyboardInterrupt
    said = [r for r in caplog.records if "may have landed after it" in r.getMessage()]
    late = patience == 0.0
    assert len(said) == (1 if late else 0)
    assert any("may have landed" in n for n in getattr(e.value, "__notes__", [])) == late


def test_the_shorter_patience_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Lowered while the lease was held: the kernel's patience at the end is what it kept.
    taken = [3600.0, 3600.0]  # read when the lease is made and when it is taken
    monkeypatch.setattr(pageio, "_lease_break_time", lambda: taken.pop() if taken else 0.0)
    made = Leased(tmp_path / "lowered")
    try:
        with pytest.raises(OpenedMeanwhileError, match="may have landed after it"), made.lease:
            made.break_it()
    finally:
        made.close()


def test_the_lease_is_let_go_though_the_last_look_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "unlooked"
    path.write_bytes(b"\0" * 4096)
    fd = os.open(path, os.O_RDWR)
    try:
        lease = pageio.FileLease(fd, str(path))
        with pytest.raises(RuntimeError, match="look failed"), lease:

            def failing() -> bool:
                raise RuntimeError("look failed")

            monkeypatch.setattr(lease, "broken_or_unknown", failing)
        assert fcntl.fcntl(fd, fcntl.F_GETLEASE) == fcntl.F_UNLCK
    finally:
        os.close(fd)


def test_an_unreadable_patience_over_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreadable(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pageio, "open", unreadable, raising=False)
    assert pageio._lease_break_time() == 0.0


def test_a_look_at_the_lease_counts_from_before_it_was_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A writer thread stalled inside the look must not record the lease whole at a time
    # after it was asked: that would hide the stall from the late warning. The stall is
    # the clock moving an hour during the real F_GETLEASE; the clock and fcntl are
    # replaced in pageio's namespace only, not for the process's other threads.
    clock = [1000.0]

    class StallingFcntl:
        def __getattr__(self, name: str) -> Any:
            return getattr(fcntl, name)

        def fcntl(self, fd: int, cmd: int, *args: int) -> int:
            got = fcntl.fcntl(fd, cmd, *args)
            if cmd == fcntl.F_GETLEASE:
                clock[0] += 3600.0
            return got

    path = tmp_path / "stalled"
    path.write_bytes(b"\0" * 4096)
    fd = os.open(path, os.O_RDWR)
    try:
        with pageio.FileLease(fd, str(path)) as lease:
            lease.whole_at = 0.0
            monkeypatch.setattr(pageio, "time", SimpleNamespace(monotonic=lambda: clock[0]))
            monkeypatch.setattr(pageio, "fcntl", StallingFcntl())
            assert not lease.broken()
            assert lease.whole_at == 1000.0
            # A thread that looked earlier but records later never moves it back.
            assert not lease.broken() and lease.whole_at == 4600.0
            lease.whole_at = 9999.0
            assert not lease.broken() and lease.whole_at == 9999.0
            monkeypatch.undo()
    finally:
        os.close(fd)
