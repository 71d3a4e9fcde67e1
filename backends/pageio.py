"""Page I/O engines: a destructive surface scan and a benchmark, for every kind of backend.

Both are built on the contract (``swap_in_many``/``swap_out_many``, ``size_pages``,
``is_active``), so a third-party plugin gets them for free. Both refuse an area that is
active in /proc/swaps before touching a byte, and neither ever writes slot 0 (the header)
except ``scan``'s final, deliberate bad-page update through ``header.set_badpages``.

Speed comes from overlap, never from the page cache (the contract's I/O is O_DIRECT):
- ``scan`` moves 1 MiB runs of consecutive slots on a few threads; ``os.preadv`` and
  ``os.pwritev`` release the GIL, so the device always has work queued.
- ``benchmark`` of 4 KiB random I/O needs more than threads can give: measured on a
  2-core VM, Python threads doing ``preadv`` top out near 34k IOPS, and even fio's own
  ``psync`` engine with 32 jobs near half of what ``libaio`` reaches, because every
  synchronous request pays a sleep and a wake-up. So when a backend does its I/O the
  contract's way (it does not override ``swap_in_many``/``swap_out_many``), the
  benchmark submits the same requests (same descriptor, same offsets) through Linux
  native AIO, ``queue_depth`` in flight from one thread, one request per ``io_submit``, as
  fio does. That loop is C (``backends/_aioloop.c``, built when the package is installed):
  the same loop in Python spends the interpreter's few microseconds per request and reaches
  only 0.8x fio. A backend with its own I/O gets a pool of ``queue_depth`` threads over its
  methods.
- Both write a regular file only under a write lease (``FileLease``): any other open of the
  file (a loop device being attached, a swapon) waits until they stop, with nothing in
  flight. Both also work in slices of at most ``SLICE_SECONDS``: before each, they ask
  ``cancel`` and look again at the open store (``SwapBackend.recheck_store``), the one
  guard where no lease can be had (the loop kind's backing file).
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import errno as errno_mod
import fcntl
import itertools
import logging
import mmap
import os
import platform
import queue
import random
import signal
import stat
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError, Future
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Protocol

from . import header
from .base import PAGE_SIZE, SwapBackend, aligned_buffer
from .errors import (
    ActiveAreaError,
    BackendError,
    BusyError,
    KernelError,
    OpenedMeanwhileError,
    ValidationError,
)

try:
    from . import _aioloop
except ImportError:  # run from a tree never installed (`make` installs it): the Python loop
    _aioloop = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]

#: badblocks -w's default patterns, in its order.
PATTERNS: Final[tuple[int, ...]] = (0xAA, 0x55, 0xFF, 0x00)
#: Scan I/O size: large enough that per-call overhead vanishes next to the transfer.
SCAN_RUN_PAGES: Final = 256
#: Scan runs in flight; more adds nothing once the device's queue is busy.
SCAN_DEPTH: Final = 4
#: Sequential benchmark phases move 1 MiB per request with this many in flight.
SEQ_RUN_PAGES: Final = 256
SEQ_DEPTH: Final = 4
#: The benchmark and the scan look again at the open store this often (the benchmark asks
#: ``cancel`` too): the longest a write can go on to an area that became active, or reachable
#: through a loop device, behind the store's back.
SLICE_SECONDS: Final = 0.1
#: Callbacks for progress come at most this often (seconds), plus once at the end.
PROGRESS_INTERVAL: Final = 0.25
#: The errnos a medium failure shows as; anything else is not the page's fault.
MEDIUM_ERRNOS: Final = frozenset({errno_mod.EIO, errno_mod.EILSEQ, errno_mod.ENODATA})


class PageIOCancelled(BackendError):
    """The caller's ``cancel`` said stop (a scan or a benchmark). The header was not
    changed."""


@dataclass(frozen=True)
class ScanResult:
    """What a scan found. ``pages`` counts the area's pages including the header slot."""

    pages: int
    patterns: int
    bad_pages: list[int]
    seconds: float
    bytes_written: int
    bytes_read: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PhaseResult:
    """One benchmark phase: requests completed, bytes moved, and per-request latency."""

    ops: int
    bytes: int
    seconds: float
    p50_us: float
    p99_us: float

    @property
    def iops(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    @property
    def mb_s(self) -> float:
        return self.bytes / self.seconds / 1e6 if self.seconds else 0.0


@dataclass(frozen=True)
class BenchResult:
    """Four phases: sequential write and read (1 MiB requests), random write and read
    (``block_pages`` pages per request, 4 KiB by default). MB are 10**6 bytes."""

    seq_write: PhaseResult
    seq_read: PhaseResult
    rand_write: PhaseResult
    rand_read: PhaseResult
    engine: str
    queue_depth: int
    block_pages: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "engine": self.engine,
            "queue_depth": self.queue_depth,
            "block_bytes": self.block_pages * PAGE_SIZE,
        }
        for name in ("seq_write", "seq_read", "rand_write", "rand_read"):
            phase: PhaseResult = getattr(self, name)
            out[f"{name}_iops"] = round(phase.iops, 1)
            out[f"{name}_mb_s"] = round(phase.mb_s, 1)
            out[f"{name}_p50_us"] = round(phase.p50_us, 1)
            out[f"{name}_p99_us"] = round(phase.p99_us, 1)
        out.update(self.extra)
        return out


# ---------------------------------------------------------------- shared checks


def refuse_if_active(backend: SwapBackend, doing: str) -> None:
    """Raise ActiveAreaError when the area is active in /proc/swaps; touches nothing."""
    if backend.is_active():
        raise ActiveAreaError(
            f"{backend.swap_path} is active in /proc/swaps: a {doing} would overwrite live "
            f"process memory. Deactivate it first (swapoff {backend.swap_path}), then retry."
        )


class _Progress:
    """Rate-limits a progress callback, and guarantees a final call at (total, total).

    The scan's threads only ``count``; the callback runs on the caller's thread, in
    ``report`` (between runs) and ``finish``. A callback is the job's, and writes to the
    database: called from a pool thread it would open a connection in every thread of every
    scan (never closed, since the threads end without Django knowing), and two threads'
    reports could land out of order.
    """

    def __init__(self, callback: ProgressFn | None, total: int) -> None:
        self.callback = callback
        self.total = total
        self.done = 0
        self._last = 0.0
        self._lock = threading.Lock()

    def count(self, n: int) -> None:
        with self._lock:
            self.done += n

    def report(self) -> None:
        now = time.monotonic()
        if self.callback is None or now - self._last < PROGRESS_INTERVAL:
            return
        self._last = now
        with self._lock:
            done = min(self.done, self.total)
        self.callback(done, self.total)

    def finish(self) -> None:
        if self.callback is not None:
            self.callback(self.total, self.total)


# ---------------------------------------------------------------- the file lease


class FileLease:
    """A write lease (``fcntl(F_SETLEASE, F_WRLCK)``) on the regular file page I/O writes
    through: the kernel grants it only while nothing else has the file open (this process
    included), and the next open by anyone (losetup attaching a loop device, swapon, mount,
    a reader, a file monitor's fanotify read, another thread of this process) breaks it and
    then waits until the holder lets go. What keeps our writes before that open returns is
    the order: the lease is let go only once nothing is in flight. Each writer looks at it
    before each request it submits (``refuse_if_broken``) so that the other open waits no
    longer than the requests already in flight take.

    The window: after ``/proc/sys/fs/lease-break-time`` (45 s by default) the kernel lets
    the other open through by itself. Requests still in flight then (a failing disk
    retrying, throttled or frozen I/O, a stopped worker) may land after it. ``__exit__``
    says so when it may have happened: the lease is broken and was last seen whole at least
    that long before it is let go (the looks between slices and the Python writers' looks
    record when they saw it whole, taking the time before they look; the C loop's looks
    before each submit do not, so the record is at most a slice old: this can only
    over-warn). It is let go only after every writer thread has ended (``_writers``). A
    descriptor passed by ``pidfd_getfd``, or kept by a
    child forked without exec, is no open and breaks nothing."""

    def __init__(self, fd: int, path: str) -> None:
        self.fd = fd
        self.path = path
        self.whole_at = time.monotonic()
        self.patience = _lease_break_time()

    def __enter__(self) -> FileLease:
        try:
            # The break is signalled to the lease's owner, with SIGIO unless told otherwise,
            # whose default is to kill: name a signal ignored by default, then no owner.
            fcntl.fcntl(self.fd, fcntl.F_SETSIG, signal.SIGURG)
            fcntl.fcntl(self.fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
            fcntl.fcntl(self.fd, fcntl.F_SETOWN, 0)
        except OSError as e:
            if e.errno in (errno_mod.EAGAIN, errno_mod.EBUSY):
                raise BusyError(
                    f"{self.path} is open elsewhere right now (a loop device over it, a "
                    "swapon, a program reading it), and swapadmin writes it only while nothing "
                    f"else has it open; retry, or see who with: fuser -v {self.path}; "
                    f"losetup -j {self.path}"
                ) from None
            why = {
                errno_mod.EINVAL: " (a filesystem without leases, or fs.leases-enable = 0)",
                errno_mod.EACCES: " (a lease needs the file's owner or CAP_LEASE, which a "
                "container must keep; a security module's policy can refuse it too)",
            }.get(e.errno or 0, "")
            raise KernelError(
                f"cannot take a write lease on {self.path}: {e.strerror}{why}; swapadmin writes "
                "a file only while it holds one",
                errno=e.errno,
            ) from e
        self.whole_at = time.monotonic()
        self.patience = _lease_break_time()
        return self

    def broken(self) -> bool:
        # The time is taken before the look: a thread stalled between the two would
        # otherwise record a later time than the lease was seen whole, and hide that much of
        # the kernel's patience from __exit__. The latest such time is kept (another thread
        # may have looked since).
        now = time.monotonic()
        if fcntl.fcntl(self.fd, fcntl.F_GETLEASE) == fcntl.F_WRLCK:
            self.whole_at = max(self.whole_at, now)
            return False
        return True

    def refuse_if_broken(self) -> None:
        if self.broken():
            raise self.broken_error()

    def broken_error(self) -> OpenedMeanwhileError:
        return OpenedMeanwhileError(
            f"something else opened {self.path} while swapadmin wrote it (another process or "
            "thread: a loop device being attached, a swapon, a reader, a file monitor): "
            "swapadmin stopped, with nothing in flight before that open returned, and writes "
            "nothing more to it"
        )

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        # Asked before letting go: broken now (or the kernel already gave way, which reads
        # the same), and nothing has seen it whole for the kernel's whole patience (the
        # shorter of what it was when taken and now; 0 when unreadable, to over-warn).
        try:
            broken = self.broken_or_unknown()
            unseen = time.monotonic() - self.whole_at
            late = broken and unseen >= min(self.patience, _lease_break_time())
        finally:
            with contextlib.suppress(OSError):
                fcntl.fcntl(self.fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        if not late:
            return
        message = (
            f"something else opened {self.path} while swapadmin wrote it, and swapadmin held "
            f"its lease {unseen:.0f} s past the last time it saw it whole, longer than the "
            "kernel's lease-break-time: the other open may have gone through first, so writes "
            "of ours may have landed after it. Check what opened the file."
        )
        if exc is not None and not isinstance(exc, Exception):
            # A KeyboardInterrupt or a worker's exit stays what it is, but not unsaid.
            log.error("%s (interrupted by %s)", message, type(exc).__name__)
            exc.add_note(message)
            return
        # The error it replaces is kept, unless it is the plain break, whose "nothing in
        # flight before that open returned" is what this one takes back.
        was = (
            f" (and before that: {type(exc).__name__}: {getattr(exc, 'message', exc)})"
            if exc is not None and not isinstance(exc, OpenedMeanwhileError)
            else ""
        )
        raise OpenedMeanwhileError(message + was) from exc

    def broken_or_unknown(self) -> bool:
        try:
            return self.broken()
        except OSError:
            return True


def _lease_break_time() -> float:
    """The kernel's patience with a broken lease, in seconds; 0 when it cannot be read, so
    that the late warning errs towards saying too much."""
    try:
        with open("/proc/sys/fs/lease-break-time") as f:
            return float(f.read())
    except (OSError, ValueError):
        return 0.0


@contextlib.contextmanager
def _exclusive(backend: SwapBackend) -> Iterator[FileLease | None]:
    """A lease on the backend's store for the length of a write job, when its I/O is the
    contract's own (a plugin with its own I/O answers for it) and the store is a regular
    file. A block device needs none: O_EXCL keeps swapon and mounts off it while it is open
    for writing."""
    if not _own_io(backend):
        yield None
        return
    fd = backend.descriptor_alone()
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        yield None
        return
    with FileLease(fd, backend.io_path()) as lease:
        yield lease


def _own_io(backend: SwapBackend) -> bool:
    return (
        type(backend).swap_in_many is SwapBackend.swap_in_many
        and type(backend).swap_out_many is SwapBackend.swap_out_many
    )


# ---------------------------------------------------------------- scan


def scan(
    backend: SwapBackend,
    *,
    patterns: int = 4,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> ScanResult:
    """Write each of the first ``patterns`` of PATTERNS over every page but the header, read
    it back and compare, like ``badblocks -w``; then record the failing pages as the header's
    bad-page list (``mkswap -c``). A page whose write or read fails with a medium error
    (EIO) is a bad page, not a failure of the scan.

    Guarantees: an active area, or one without a readable swap header, is refused before a
    byte is written; a regular file is written only under a write lease (``FileLease``: no
    write lands after another open of it returns, within the kernel's lease-break-time),
    and the open store is looked at again every SLICE_SECONDS (the one guard for the loop
    kind's backing file, which its own loop device holds open, so no lease); slot 0 is
    written only by the final ``header.set_badpages``; a cancelled scan (``cancel()`` true,
    polled between runs) raises PageIOCancelled with the header unchanged. The contents of
    the other pages are destroyed, as with mkswap -c.
    ``progress(done, total)`` counts page transfers (each page is written and read once per
    pattern), is called at most a few times a second, and last with done == total.
    """
    if not 1 <= patterns <= len(PATTERNS):
        raise ValidationError(
            f"a scan takes 1 to {len(PATTERNS)} patterns, not {patterns}", field="patterns"
        )
    refuse_if_active(backend, "scan")
    header.read_header(backend)  # an area with no header has no list to record bad pages in
    pages = backend.size_pages
    tracker = _Progress(progress, (pages - 1) * patterns * 2)
    started = time.monotonic()
    bad: set[int] = set()
    with _exclusive(backend) as lease:
        with _writers(SCAN_DEPTH, "scan") as pool:
            for value in PATTERNS[:patterns]:
                _scan_pattern(backend, pool, value, bad, tracker, cancel, lease)
        if lease is not None:
            lease.refuse_if_broken()
        backend.recheck_store()
        _record_badpages(backend, sorted(bad))
    tracker.finish()
    moved = (pages - 1) * patterns * PAGE_SIZE
    return ScanResult(
        pages=pages,
        patterns=patterns,
        bad_pages=sorted(bad),
        seconds=round(time.monotonic() - started, 3),
        bytes_written=moved,
        bytes_read=moved,
    )


def _runs_of(pages: int, run: int) -> list[range]:
    """Slots 1..pages-1 (never the header) in ranges of at most ``run`` consecutive slots."""
    return [range(s, min(s + run, pages)) for s in range(1, pages, run)]


def _scan_pattern(
    backend: SwapBackend,
    pool: _WriterPool,
    value: int,
    bad: set[int],
    tracker: _Progress,
    cancel: CancelFn | None,
    lease: FileLease | None,
) -> None:
    pattern = aligned_buffer(SCAN_RUN_PAGES)
    pattern.write(bytes([value]) * len(pattern))
    expected = bytes([value]) * PAGE_SIZE
    runs = _runs_of(backend.size_pages, SCAN_RUN_PAGES)
    buffers = _BufferPool(SCAN_DEPTH * 2, SCAN_RUN_PAGES)

    def write(slots: range) -> None:
        if lease is not None:
            lease.refuse_if_broken()
        bad.update(_write_run(backend, slots, memoryview(pattern)[: len(slots) * PAGE_SIZE]))
        tracker.count(len(slots))

    def verify(slots: range) -> None:
        if lease is not None:
            lease.refuse_if_broken()  # a read too: the other open waits no longer for it
        with buffers.take() as buf:
            bad.update(_verify_run(backend, slots, buf, expected))
        tracker.count(len(slots))

    _run_all(pool, write, runs, backend, cancel, tracker)
    _run_all(pool, verify, runs, backend, cancel, tracker)


def _run_all(
    pool: _WriterPool,
    fn: Callable[[range], None],
    runs: Sequence[range],
    backend: SwapBackend,
    cancel: CancelFn | None,
    tracker: _Progress,
) -> None:
    """Apply ``fn`` to every run with at most 2 * SCAN_DEPTH queued, so a cancel is seen
    quickly and memory stays bounded; re-raises the first worker failure. Progress is
    reported from here, the caller's thread, as runs complete, and the open store is looked
    at again (``SwapBackend.recheck_store``) before the first run and every SLICE_SECONDS."""
    pending: list[Future[None]] = []
    rechecked: float | None = None  # each pass begins with a look
    for slots in runs:
        if rechecked is None or time.monotonic() - rechecked >= SLICE_SECONDS:
            # A refusal raises into ``_writers``, whose drain skips the runs not yet begun
            # and waits for the others, whose buffers stay theirs until they are done.
            backend.recheck_store()
            rechecked = time.monotonic()
        if cancel is not None and cancel():
            _wait_all(pool, pending)
            raise PageIOCancelled(
                f"scan of {backend.swap_path} cancelled at slot {slots.start}: the header "
                "was not changed; the other pages hold test patterns (harmless while the "
                "area is inactive; run the scan again or mkswap before using it)"
            )
        pending.append(pool.submit(fn, slots))
        if len(pending) >= 2 * SCAN_DEPTH:
            _wait_all(pool, [pending.pop(0)])
            tracker.report()
    _wait_all(pool, pending)
    tracker.report()


class _Stop:
    """A stop flag for writer threads that takes no lock. ``threading.Event.set`` goes
    through a Python-level ``Condition.__enter__``: an interrupt landing just after it takes
    the Event's lock leaves that lock held with the flag unset, and the next ``set()`` (the
    drain's, on its retry) blocks on it for ever. The writers only ask ``is_set()``."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True  # one store: nothing to leave half done

    def is_set(self) -> bool:
        return self._set


class _Stoppable(Protocol):
    def set(self) -> None: ...

    def is_set(self) -> bool: ...


class _Work(Future[None]):
    """A piece of a pool's work. ``ended`` is set by the worker thread once the work ran
    (or was skipped), and ``error`` before it to what the work raised (CancelledError when
    skipped): plain attributes, read without the future's lock, and set even when settling
    the future itself failed, which would leave its ``exception()`` waiting for ever."""

    ended = False
    error: BaseException | None = None


class _WriterPool:
    """Writer threads that the caller leaves only once none of their work runs or can start
    (``_writers``), however often the caller is interrupted.

    The caller's thread never takes a lock that a writer needs while the work may still
    run. A ``Future``'s own methods take its lock through a Python-level ``__enter__``,
    and an interrupt landing just after the lock is taken leaves it held for good (CPython's
    ``with`` cannot call ``__exit__`` for an ``__enter__`` that raised): the writer that
    must settle that future would block for ever, and the drain with it. So the caller
    learns that work ended from ``_Work.ended`` and sleeps on a ``SimpleQueue`` (C, no
    lock left behind), and the work is skipped, not cancelled, once the pool closes.

    Not a ``ThreadPoolExecutor`` either, whose ``submit`` starts threads on demand (an
    interrupt in there could leave its workers stuck, or raise a RuntimeError in place of
    the interrupt). ``start`` runs all the threads before any work, inside ``_writers``'s
    ``try``; ``submit`` is one ``SimpleQueue.put``, so an interrupt leaves the work either
    queued (run, or skipped by a closing pool) or not queued at all. The drain closes the
    pool, puts one None per thread behind the work already queued, and waits until every
    thread has said it is gone: then nothing runs and nothing can start."""

    def __init__(self, count: int, prefix: str, stop: _Stoppable | None) -> None:
        self.prefix = prefix
        self.stop = stop
        self._count = count
        self._queue: queue.SimpleQueue[tuple[_Work, Callable[..., None], tuple[Any, ...]] | None]
        self._queue = queue.SimpleQueue()
        self._woken: queue.SimpleQueue[None] = queue.SimpleQueue()  # a None per wake-up
        self._closing = False
        self._started: list[threading.Thread] = []
        self._gone: list[str] = []  # list.append is atomic: no lock for the caller to hold

    def start(self) -> None:
        for i in range(self._count):
            thread = threading.Thread(target=self._work, name=f"{self.prefix}_{i}", daemon=True)
            thread.start()
            self._started.append(thread)

    def submit(self, fn: Callable[..., None], /, *args: Any) -> Future[None]:
        mine = _Work()
        self._queue.put((mine, fn, args))
        return mine

    def _work(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                mine, fn, args = item
                del item  # nothing of it kept alive while this thread waits for the next
                try:
                    if self._closing:
                        mine.error = CancelledError()
                        mine.cancel()  # this thread's lock to take: no signal lands here
                    elif mine.set_running_or_notify_cancel():
                        try:
                            fn(*args)
                        except BaseException as e:
                            mine.error = e
                            mine.set_exception(e)
                        else:
                            mine.set_result(None)
                except BaseException as e:
                    # Settling failed (a bug): the caller still learns it from ``error``,
                    # and this thread goes on, or the work queued behind would never end.
                    mine.error = mine.error or e
                finally:
                    # Ended however it went, or a waiter would wait for it for ever.
                    mine.ended = True
                    self._woken.put(None)
                    del mine, fn, args
        finally:
            self._gone.append(threading.current_thread().name)
            self._woken.put(None)

    def wait(
        self,
        futures: Sequence[Future[None]],
        timeout: float | None = None,
        *,
        first_exception: bool = False,
    ) -> list[Future[None]]:
        """Wait until all of this pool's ``futures`` have ended, or one has failed
        (``first_exception``), or ``timeout`` has passed; returns those not ended. Safe
        to interrupt: no lock of a future's is taken until it has ended (see the class).
        Wake-ups already due are taken before the look, so none is lost and none piles
        up."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._take_wakeups()
            not_done = [f for f in futures if not _ended(f)]
            if not not_done:
                return []
            if first_exception and any(_failed(f) for f in futures):
                return not_done
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return not_done
            with contextlib.suppress(queue.Empty):
                self._woken.get(timeout=left)

    def _take_wakeups(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self._woken.get_nowait()

    def drain(self) -> BaseException | None:
        """Close the pool and wait until every thread is gone, through any number of
        interrupts; the first one is returned. No thread joins: a join that an interrupt
        cuts short marks a running thread as ended (Python 3.11's bpo-45274 fix), and
        every later join then returns at once."""
        held: BaseException | None = None
        interrupts = 0
        while True:
            try:
                # Nothing logged in here: a logging handler's lock, taken through Python
                # code, could be left held by an interrupt, and a writer that logs would
                # then block for ever. Said once the threads are gone.
                self._closing = True  # work still queued is skipped
                if self.stop is not None:
                    # On every try: an interrupt inside set() may have cut it short.
                    # Workers that loop until told stop at their next request.
                    self.stop.set()
                for _ in range(self._count):
                    self._queue.put(None)  # behind the work queued; spare ones are harmless
                while len(self._gone) < len(self._started):
                    self._take_wakeups()
                    if len(self._gone) >= len(self._started):
                        break
                    with contextlib.suppress(queue.Empty):
                        self._woken.get(timeout=SLICE_SECONDS)
                break
            except BaseException as e:  # an interrupt while the threads still write
                held = held or e
                interrupts += 1
        if interrupts:
            log.warning(
                "interrupted %d time(s) while the %s threads' I/O ended", interrupts, self.prefix
            )
        return held


def _ended(future: Future[None]) -> bool:
    return isinstance(future, _Work) and future.ended


def _failed(future: Future[None]) -> bool:
    """Whether ``future`` has ended with an error (read from ``_Work.error``: no lock)."""
    error = getattr(future, "error", None)
    return _ended(future) and error is not None and not isinstance(error, CancelledError)


@contextlib.contextmanager
def _writers(count: int, prefix: str, stop: _Stoppable | None = None) -> Iterator[_WriterPool]:
    """A pool of writer threads that the caller leaves only once none of its work runs: on
    the way out, ``stop`` is set, work not yet begun is cancelled and the running work is
    waited for, through the interrupts that arrive meanwhile (a second Ctrl-C, a warm then a
    cold shutdown). Leaving earlier would let go of the file's lease, or close the
    descriptor, under a write still in flight: it could land after another open of the file
    returned, or on whatever file the descriptor's number names next.

    The window left (docs/ARCHITECTURE.md, "Page I/O"): under a storm of signals one can
    land on the few bytecodes of the drain (or of this generator's exit) that no handler
    covers; closing it needs the signals held over the drain."""
    pool = _WriterPool(count, prefix, stop)  # no thread yet: one begun here would be left
    try:
        pool.start()
        yield pool
    except BaseException as e:
        held = pool.drain()
        if held is not None and isinstance(e, Exception):
            # The interrupt is what was asked for last; what it cut short goes with it.
            held.add_note(f"while ending on {type(e).__name__}: {_said(e)}")
            raise held from e
        if held is not None:
            log.warning("a second interrupt (%s) while ending on one", type(held).__name__)
        raise
    held = pool.drain()
    if held is not None:
        raise held


def _said(e: BaseException) -> str:
    """What an error says, for a note: bounded, and never an error of its own."""
    try:
        return str(getattr(e, "message", e))[:500]
    except Exception:
        return "(unprintable)"


def _wait_all(pool: _WriterPool, pending: list[Future[None]]) -> None:
    """Wait for ``pending`` (``_WriterPool.wait``: safe to interrupt, where a future's own
    ``result()`` sleeps on its lock) and raise the first failure among them."""
    pool.wait(pending)
    for f in pending:
        error = getattr(f, "error", None)
        if error is not None:
            raise error


class _BufferPool:
    """Aligned read buffers shared by the scan threads; a mmap per read would cost a
    system call pair per MiB."""

    def __init__(self, count: int, pages: int) -> None:
        self._free = [aligned_buffer(pages) for _ in range(count)]
        self._lock = threading.Lock()

    def take(self) -> _Lease:
        with self._lock:
            buf = self._free.pop() if self._free else aligned_buffer(SCAN_RUN_PAGES)
        return _Lease(self, buf)

    def give(self, buf: mmap.mmap) -> None:
        with self._lock:
            self._free.append(buf)


class _Lease:
    def __init__(self, pool: _BufferPool, buf: mmap.mmap) -> None:
        self.pool = pool
        self.buf = buf

    def __enter__(self) -> mmap.mmap:
        return self.buf

    def __exit__(self, *exc: object) -> None:
        self.pool.give(self.buf)


def _is_medium_error(e: KernelError) -> bool:
    return e.errno in MEDIUM_ERRNOS


def _write_run(backend: SwapBackend, slots: range, data: memoryview) -> list[int]:
    """Write ``data`` over ``slots``; returns the slots whose write failed with a medium
    error, found page by page once the whole run has failed."""
    try:
        backend.swap_out_many(slots, data)
        return []
    except KernelError as e:
        if not _is_medium_error(e):
            raise
    failed = []
    for i, slot in enumerate(slots):
        try:
            backend.swap_out_many([slot], data[i * PAGE_SIZE : (i + 1) * PAGE_SIZE])
        except KernelError as e:
            if not _is_medium_error(e):
                raise
            failed.append(slot)
    return failed


def _verify_run(
    backend: SwapBackend, slots: range, buf: mmap.mmap, expected_page: bytes
) -> list[int]:
    """Read ``slots`` back; returns those that fail to read or differ from the pattern."""
    try:
        got = backend.swap_in_many(slots, buf).tobytes()
    except KernelError as e:
        if not _is_medium_error(e):
            raise
        return _verify_pages(backend, slots, buf, expected_page)
    # bytes comparison is a memcmp; comparing memoryviews goes element by element.
    if got == expected_page * len(slots):
        return []
    return [
        s for i, s in enumerate(slots) if got[i * PAGE_SIZE : (i + 1) * PAGE_SIZE] != expected_page
    ]


def _verify_pages(
    backend: SwapBackend, slots: range, buf: mmap.mmap, expected_page: bytes
) -> list[int]:
    failed = []
    for slot in slots:
        try:
            got = backend.swap_in_many([slot], buf).tobytes()
        except KernelError as e:
            if not _is_medium_error(e):
                raise
            failed.append(slot)
            continue
        if got != expected_page:
            failed.append(slot)
    return failed


def _record_badpages(backend: SwapBackend, bad: list[int]) -> None:
    try:
        header.set_badpages(backend, bad)
    except ValidationError as e:
        # The list is the scan's finding; keep it in the message so the work is not lost.
        shown = ", ".join(map(str, bad[:20])) + (" ..." if len(bad) > 20 else "")
        raise ValidationError(
            f"the scan found {len(bad)} bad pages ({shown}) but they cannot be recorded in "
            f"the header: {e.message}",
            field=e.field,
        ) from e


# ---------------------------------------------------------------- benchmark


@dataclass
class _Samples:
    """What one phase's workers gathered."""

    ops: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def merge(self, ops: int, latencies_ns: list[int]) -> None:
        with self.lock:
            self.ops += ops
            self.latencies_ns.extend(latencies_ns)


class _Engine(Protocol):
    name: str

    def run(self, phase: _Phase) -> _Samples:
        """Keep ``phase.depth`` requests of its pattern in flight for ``phase.seconds``,
        calling ``phase.check`` on the caller's thread before the first and at least every
        SLICE_SECONDS after; when it raises, stop and let it through once nothing is in
        flight. With a lease, look at it before each request submitted."""
        ...


@dataclass(frozen=True)
class _Phase:
    """One phase of a benchmark, as every engine runs it."""

    write: bool
    pattern: _Pattern
    depth: int
    seconds: float
    check: CheckFn
    lease: FileLease | None
    pages: int  # the area's size, which no request may reach past


CheckFn = Callable[[], None]


@dataclass(frozen=True)
class _Pattern:
    """Where requests start: slot 1 + k * run_pages for k in [0, runs), k counting up and
    wrapping (sequential), or drawn uniformly (random, aligned to the request size as fio
    aligns to --bs). Slot 0, the header, is never in it."""

    random: bool
    run_pages: int
    runs: int

    @classmethod
    def over(cls, pages: int, run_pages: int, *, random: bool) -> _Pattern:
        return cls(random, run_pages, (pages - 1) // run_pages)

    def slots(self) -> Callable[[], int]:
        """Request starts for the Python engines; thread-safe (itertools.count is atomic, and
        random.Random's randrange holds the GIL)."""
        run, runs = self.run_pages, self.runs
        if self.random:
            rnd = random.Random()
            return lambda: 1 + rnd.randrange(runs) * run
        counter = itertools.count()
        return lambda: 1 + (next(counter) % runs) * run


def benchmark(
    backend: SwapBackend,
    *,
    seconds: float = 5.0,
    block_pages: int = 1,
    queue_depth: int = 32,
    progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> BenchResult:
    """Measure sequential write and read (1 MiB requests, SEQ_DEPTH in flight), then random
    write and read of ``block_pages`` pages per request with ``queue_depth`` in flight, each
    phase for a quarter of ``seconds``. Latency is per request, submission to completion.

    Guarantees: an active area is refused before a byte is touched; a regular file is
    written only under a write lease (``FileLease``: no write lands after another open of it
    returns, such as a loop device being attached over it, within the kernel's
    lease-break-time); the open store is looked at again every SLICE_SECONDS
    (``SwapBackend.recheck_store``: the one guard for the loop kind's backing file, which its
    own loop device holds open, so no lease); slot 0 is never written, and page 0
    is read first and written back at the end if it differs (so a swap header survives
    whatever happened). The other pages are overwritten with random data. Reads of pages
    never written (a fresh sparse or unwritten-extent file) may not reach the device, so
    benchmark an area that has been written once (mkswap does not; a scan does).
    ``progress(ms_done, ms_total)`` reports elapsed time; ``cancel()`` true, polled between
    slices, raises PageIOCancelled.
    """
    _check_bench_args(backend, seconds, block_pages, queue_depth)
    refuse_if_active(backend, "benchmark")
    with _exclusive(backend) as lease:
        return _benchmark(backend, lease, seconds, block_pages, queue_depth, progress, cancel)


def _benchmark(
    backend: SwapBackend,
    lease: FileLease | None,
    seconds: float,
    block_pages: int,
    queue_depth: int,
    progress: ProgressFn | None,
    cancel: CancelFn | None,
) -> BenchResult:
    pages = backend.size_pages
    page0 = bytes(backend.swap_in_many([0]))
    engine = _engine_for(backend)
    check = _between_slices(backend, cancel, lease)
    phase_seconds = seconds / 4
    total_ms = int(seconds * 1000)
    results: list[PhaseResult] = []
    try:
        plan = (
            (True, _Pattern.over(pages, SEQ_RUN_PAGES, random=False), SEQ_DEPTH),
            (False, _Pattern.over(pages, SEQ_RUN_PAGES, random=False), SEQ_DEPTH),
            (True, _Pattern.over(pages, block_pages, random=True), queue_depth),
            (False, _Pattern.over(pages, block_pages, random=True), queue_depth),
        )
        for i, (write, pattern, depth) in enumerate(plan):
            started = time.monotonic()
            samples = engine.run(_Phase(write, pattern, depth, phase_seconds, check, lease, pages))
            elapsed = time.monotonic() - started
            results.append(_summarise(samples, pattern.run_pages, elapsed))
            if progress is not None:
                progress(min(total_ms, int((i + 1) * phase_seconds * 1000)), total_ms)
    finally:
        _restore_page0(backend, page0)
    return BenchResult(
        seq_write=results[0],
        seq_read=results[1],
        rand_write=results[2],
        rand_read=results[3],
        engine=engine.name,
        queue_depth=queue_depth,
        block_pages=block_pages,
    )


def _between_slices(
    backend: SwapBackend, cancel: CancelFn | None, lease: FileLease | None
) -> CheckFn:
    def check() -> None:
        if lease is not None:
            lease.refuse_if_broken()
        if cancel is not None and cancel():
            raise PageIOCancelled(
                f"benchmark of {backend.swap_path} cancelled: the header was not changed; "
                "the other pages hold random data (harmless while the area is inactive)"
            )
        backend.recheck_store()

    return check


def _check_bench_args(
    backend: SwapBackend, seconds: float, block_pages: int, queue_depth: int
) -> None:
    if not 0 < seconds <= 3600:
        raise ValidationError("a benchmark runs for more than 0 and at most 3600 seconds")
    if not 1 <= queue_depth <= 256:
        raise ValidationError("queue depth must be 1 to 256", field="queue_depth")
    if not 1 <= block_pages <= SEQ_RUN_PAGES:
        raise ValidationError(f"block pages must be 1 to {SEQ_RUN_PAGES}", field="block_pages")
    if backend.size_pages < 1 + SEQ_RUN_PAGES:
        raise ValidationError(
            f"a benchmark needs at least {1 + SEQ_RUN_PAGES} pages "
            f"({(1 + SEQ_RUN_PAGES) * PAGE_SIZE} bytes); this area has {backend.size_pages}"
        )


def _summarise(samples: _Samples, run_pages: int, seconds: float) -> PhaseResult:
    lat = sorted(samples.latencies_ns)

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] / 1000 if lat else 0.0

    return PhaseResult(
        ops=samples.ops,
        bytes=samples.ops * run_pages * PAGE_SIZE,
        seconds=seconds,
        p50_us=pct(0.50),
        p99_us=pct(0.99),
    )


def _restore_page0(backend: SwapBackend, page0: bytes) -> None:
    """Page 0 written back if it differs, through the store asked again just before
    (``recheck_store``): the benchmark never writes slot 0, so a page 0 that changed may be
    another's by now (a loop device attached over the file, formatted and swapped on,
    which the check between slices had just refused: 226/2), never to be overwritten."""
    if bytes(backend.swap_in_many([0])) != page0:
        backend.recheck_store()
        backend.swap_out(0, page0)


def _engine_for(backend: SwapBackend) -> _Engine:
    """Native AIO when the backend's I/O is the contract's own (so the requests are the
    same ones): the C loop, or the Python one in a tree never installed; the thread pool
    over its methods otherwise."""
    if _own_io(backend) and _AIO_SYSCALLS is not None:
        if _aioloop is not None:
            return _CEngine(backend)
        log.warning(
            "backends._aioloop is not built (install the package: make): benchmarking with "
            "the Python loop, about 0.8x fio's speed"
        )
        return _AioEngine(backend)
    return _ThreadEngine(backend)


def _supervise(
    pool: _WriterPool, pending: list[Future[None]], stop: _Stoppable, check: CheckFn
) -> None:
    """Wait for the workers, calling ``check`` between slices on this, the caller's, thread
    (it may ask the database, whose connections are per thread); when it raises, tell the
    workers to stop, wait for them, and raise it. Re-raises the first worker failure."""
    try:
        while pool.wait(pending, SLICE_SECONDS, first_exception=True):
            if any(_failed(f) for f in pending):
                break
            check()
    except BaseException:
        stop.set()
        pool.wait(pending)
        raise
    stop.set()
    _wait_all(pool, pending)


class _ThreadEngine:
    """``depth`` threads, each issuing one request at a time through the contract."""

    name = "threads"

    def __init__(self, backend: SwapBackend) -> None:
        self.backend = backend

    def run(self, phase: _Phase) -> _Samples:
        samples = _Samples()
        deadline = time.monotonic() + phase.seconds
        data = _random_pages(phase.pattern.run_pages)
        next_slot = phase.pattern.slots()
        stop = _Stop()
        phase.check()
        with _writers(phase.depth, "bench", stop) as pool:
            futures = [
                pool.submit(self._worker, phase, next_slot, deadline, stop, data, samples)
                for _ in range(phase.depth)
            ]
            _supervise(pool, futures, stop, phase.check)
        return samples

    def _worker(
        self,
        phase: _Phase,
        next_slot: Callable[[], int],
        deadline: float,
        stop: _Stoppable,
        data: mmap.mmap,
        samples: _Samples,
    ) -> None:
        write, run_pages, lease = phase.write, phase.pattern.run_pages, phase.lease
        buf = memoryview(data) if write else memoryview(aligned_buffer(run_pages))
        latencies: list[int] = []
        clock = time.perf_counter_ns
        while time.monotonic() < deadline and not stop.is_set():
            if lease is not None:
                lease.refuse_if_broken()
            first = next_slot()
            slots = range(first, first + run_pages)
            t0 = clock()
            if write:
                self.backend.swap_out_many(slots, buf)
            else:
                self.backend.swap_in_many(slots, buf)
            latencies.append(clock() - t0)
        samples.merge(len(latencies), latencies)


def _random_pages(pages: int) -> mmap.mmap:
    """Incompressible data, so a compressing store (zram) is measured at its worst case."""
    buf = aligned_buffer(pages)
    buf.write(os.urandom(len(buf)))
    return buf


# ---- Linux native AIO (io_setup/io_submit/io_getevents), through ctypes ----

# (io_setup, io_destroy, io_getevents, io_submit); only little-endian machines, where the
# iocb's aio_key comes before aio_rw_flags.
_AIO_NUMBERS: Final = {"x86_64": (206, 207, 208, 209), "aarch64": (0, 1, 4, 2)}
_AIO_SYSCALLS = _AIO_NUMBERS.get(platform.machine())
_IOCB = struct.Struct("=QIiHhIQQqQII")  # struct iocb, 64 bytes
_EVENT = struct.Struct("=QQqq")  # struct io_event, 32 bytes
_IOCB_OFFSET_AT: Final = 40  # aio_offset within struct iocb
_CMD_PREAD: Final = 0
_CMD_PWRITE: Final = 1
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _sys(number: int, *args: Any) -> int:
    """A raw system call; raises OSError with the errno on failure. ctypes releases the GIL
    around it."""
    ret = int(_libc.syscall(ctypes.c_long(number), *args))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


class _CEngine:
    """The C loop (backends/_aioloop.c): ``depth`` requests in flight from this thread, one
    ``io_submit`` each, as fio's libaio engine does, run a slice at a time with the GIL
    released; ``check`` runs before each slice, when nothing is in flight."""

    name = "linux-aio"

    #: Latencies one slice can hold: 0.1 s at 650k requests a second, several times what a
    #: virtio disk gives. A slice that fills it ends early, and the next begins.
    LATENCY_SLOTS: Final = 1 << 16

    def __init__(self, backend: SwapBackend) -> None:
        self.backend = backend

    def run(self, phase: _Phase) -> _Samples:
        assert _aioloop is not None
        write, pattern, depth, lease = phase.write, phase.pattern, phase.depth, phase.lease
        # The backend's own proven descriptor: the requests go to the store that was proven
        # this backend's, not to whatever its path names by now.
        fd = self.backend.descriptor(write)
        path = self.backend.io_path()
        nbytes = pattern.run_pages * PAGE_SIZE
        data = _random_pages(pattern.run_pages * depth)
        latencies = array.array("Q", bytes(8 * self.LATENCY_SLOTS))
        # xorshift's state must not be 0; the sequential counter starts at the first run.
        state = int.from_bytes(os.urandom(8), "little") | 1 if pattern.random else 0
        samples = _Samples()
        deadline = time.monotonic() + phase.seconds
        with _AioContext(depth) as ctx:
            while (left := deadline - time.monotonic()) > 0:
                phase.check()
                ops, state, status, err, offset = _aioloop.run(
                    ctx=ctx.handle.value, fd=fd, lease_fd=-1 if lease is None else lease.fd,
                    write=write, data=data, nbytes=nbytes, first=1, runs=pattern.runs,
                    run_pages=pattern.run_pages, pages=phase.pages, random=pattern.random,
                    depth=depth, slice_ns=max(1, int(min(left, SLICE_SECONDS) * 1e9)),
                    latencies=latencies, state=state,
                )  # fmt: skip
                samples.ops += ops
                samples.latencies_ns.extend(latencies[:ops])
                if status == _C_SUBMIT_FAILED:
                    raise KernelError(f"AIO on {path} failed: {os.strerror(err)}", errno=err)
                if status == _C_LEASE_BROKEN:
                    assert lease is not None
                    raise lease.broken_error()
                if status == _C_IO_FAILED:
                    raise _io_failure(path, offset, err, nbytes)
        return samples


# _aioloop.run's status: io_submit or io_getevents failed (err is the errno), a request did
# (err is its result), or the lease was broken (nothing submitted since).
_C_SUBMIT_FAILED: Final = 1
_C_IO_FAILED: Final = 2
_C_LEASE_BROKEN: Final = 3


def _io_failure(path: str, offset: int, res: int, nbytes: int) -> KernelError:
    if res < 0:
        return KernelError(
            f"I/O on {path} at byte {offset} failed: {os.strerror(-res)}", errno=-res
        )
    return KernelError(f"short I/O on {path} at byte {offset}: {res} of {nbytes}")


class _AioEngine:
    """The same loop in Python, for a tree never installed (no C loop built): keeps
    ``depth`` requests in flight, resubmitting each as it completes. The depth is split over
    one submitting thread per CPU: ctypes drops the GIL inside io_submit, whose kernel side
    is most of the cost, so a second thread prepares while the first submits."""

    name = "linux-aio-python"

    def __init__(self, backend: SwapBackend) -> None:
        self.backend = backend

    def run(self, phase: _Phase) -> _Samples:
        write, pattern, depth = phase.write, phase.pattern, phase.depth
        fd = self.backend.descriptor(write)
        loops = max(1, min(os.cpu_count() or 1, depth, 4))
        shares = [depth // loops + (1 if i < depth % loops else 0) for i in range(loops)]
        samples = _Samples()
        path = self.backend.io_path()
        next_slot = pattern.slots()
        stop = _Stop()

        def one(share: int) -> None:
            with _AioContext(share) as ctx:
                loop = _AioLoop(ctx, fd, write, pattern.run_pages, share, path)
                got = loop.run(next_slot, phase.seconds, stop, phase.lease)
            samples.merge(got.ops, got.latencies_ns)

        phase.check()
        with _writers(loops, "aio", stop) as pool:
            _supervise(pool, [pool.submit(one, share) for share in shares], stop, phase.check)
        return samples


class _AioContext:
    def __init__(self, depth: int) -> None:
        assert _AIO_SYSCALLS is not None
        self.setup, self.destroy, self.getevents, self.submit = _AIO_SYSCALLS
        self.depth = depth
        self.handle = ctypes.c_ulong(0)

    def __enter__(self) -> _AioContext:
        try:
            _sys(self.setup, self.depth, ctypes.byref(self.handle))
        except OSError as e:
            raise KernelError(
                f"io_setup({self.depth}) failed: {e.strerror}; raise fs.aio-max-nr or lower "
                "the queue depth",
                errno=e.errno,
                retryable=e.errno == errno_mod.EAGAIN,
            ) from e
        return self

    def __exit__(self, *exc: object) -> None:
        # io_destroy waits for requests still in flight, so the buffers outlive them.
        _sys(self.destroy, self.handle)


class _AioLoop:
    """The submit/complete loop, with iocbs and pointers packed once into ctypes memory and
    only the offset rewritten per request."""

    def __init__(
        self, ctx: _AioContext, fd: int, write: bool, run_pages: int, depth: int, path: str
    ) -> None:
        self.ctx = ctx
        self.depth = depth
        self.nbytes = run_pages * PAGE_SIZE
        self.path = path
        self.data = _random_pages(run_pages * depth)
        base = ctypes.addressof(ctypes.c_char.from_buffer(self.data))
        self.iocbs = (ctypes.c_char * (_IOCB.size * depth))()
        self.iocb_mem = memoryview(self.iocbs).cast("B")
        self.iocb_addr = ctypes.addressof(self.iocbs)
        self.ptrs = (ctypes.c_uint64 * depth)()
        self.events = (ctypes.c_char * (_EVENT.size * depth))()
        self.event_mem = memoryview(self.events).cast("B")
        opcode = _CMD_PWRITE if write else _CMD_PREAD
        for i in range(depth):
            _IOCB.pack_into(
                self.iocb_mem, i * _IOCB.size,
                i, 0, 0, opcode, 0, fd, base + i * self.nbytes, self.nbytes, 0, 0, 0, 0,
            )  # fmt: skip

    def run(
        self,
        next_slot: Callable[[], int],
        seconds: float,
        stop: _Stoppable,
        lease: FileLease | None,
    ) -> _Samples:
        submitted = [0] * self.depth
        latencies: list[int] = []
        clock = time.perf_counter_ns
        set_offset = struct.Struct("=q").pack_into
        set_ptr = struct.Struct("=Q").pack_into
        ptr_mem = memoryview(self.ptrs).cast("B")
        iocb_mem, iocb_addr, size, nbytes = self.iocb_mem, self.iocb_addr, _IOCB.size, self.nbytes
        deadline = clock() + int(seconds * 1e9)
        ready = list(range(self.depth))
        inflight = 0
        while True:
            now = clock()
            if now < deadline and not stop.is_set():
                if lease is not None:
                    # Raised with requests in flight: the context's io_destroy waits for
                    # them, and the lease is let go only after that.
                    lease.refuse_if_broken()
                for k, i in enumerate(ready):
                    set_offset(iocb_mem, i * size + _IOCB_OFFSET_AT, next_slot() * PAGE_SIZE)
                    set_ptr(ptr_mem, k * 8, iocb_addr + i * size)
                    submitted[i] = now
                self._submit(len(ready))
                inflight += len(ready)
            if inflight == 0:
                break
            ready = []
            got = self._reap()
            now = clock()
            for i, _obj, res, _res2 in _EVENT.iter_unpack(self.event_mem[: got * _EVENT.size]):
                if res != nbytes:
                    self._fail(i, res)
                latencies.append(now - submitted[i])
                ready.append(i)
            inflight -= got
        return _Samples(ops=len(latencies), latencies_ns=latencies)

    def _submit(self, n: int) -> None:
        done = 0
        while done < n:
            ptrs = ctypes.byref(self.ptrs, done * ctypes.sizeof(ctypes.c_uint64))
            try:
                done += _sys(self.ctx.submit, self.ctx.handle, ctypes.c_long(n - done), ptrs)
            except OSError as e:
                raise KernelError(
                    f"io_submit on {self.path} failed: {e.strerror}", errno=e.errno
                ) from e

    def _reap(self) -> int:
        while True:
            try:
                return _sys(
                    self.ctx.getevents, self.ctx.handle, ctypes.c_long(1),
                    ctypes.c_long(self.depth), self.events, None,
                )  # fmt: skip
            except InterruptedError:
                continue

    def _fail(self, i: int, res: int) -> None:
        offset = _IOCB.unpack_from(self.iocb_mem, i * _IOCB.size)[8]
        raise _io_failure(self.path, offset, res, self.nbytes)
