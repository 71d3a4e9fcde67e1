"""A scan's or benchmark's writer threads are waited for however often the caller is
interrupted: leaving before they end would let go of the file's lease (or close the
descriptor) under a write still in flight, which could then land after another open of the
file returned, or on whatever file the descriptor's number names next."""

from __future__ import annotations

import _weakrefset
import dis
import functools
import gc
import itertools
import linecache
import signal
import sys
import threading
from collections.abc import Iterator
from types import CodeType, FrameType
from typing import Any

import pytest

from backends import pageio
from tests.fixtures.workers import wait_until


class Interrupt(BaseException):
    """What the test's signal raises: an interrupt of its own, so that pytest's handling of
    a real Ctrl-C is never involved."""


@pytest.fixture
def second_interrupt() -> Iterator[threading.Event]:
    """SIGUSR1 raises Interrupt("second") in the main thread; the event says it did."""
    handled = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        handled.set()
        raise Interrupt("second")

    old = signal.signal(signal.SIGUSR1, on_signal)
    try:
        yield handled
    finally:
        signal.signal(signal.SIGUSR1, old)


def waiting_for_writers(ident: int) -> bool:
    """Whether the thread ``ident`` is inside a wait for its pool's work (however it
    waits: draining, or a pool's own shutdown)."""
    frame = sys._current_frames().get(ident)
    while frame is not None:
        if frame.f_code.co_name in ("drain", "shutdown"):
            return True
        frame = frame.f_back
    return False


@pytest.mark.parametrize("first", [Interrupt("first"), RuntimeError("first")], ids=type)
def test_the_caller_leaves_only_after_its_writers_though_interrupted_again(
    second_interrupt: threading.Event, first: BaseException
) -> None:
    main = threading.get_ident()
    order: list[str] = []
    begun = threading.Event()

    def writer() -> None:
        # Still "writing" when the caller leaves, and interrupted again while it waits.
        begun.set()
        wait_until(lambda: waiting_for_writers(main), 30, "the caller waiting for its writers")
        signal.pthread_kill(main, signal.SIGUSR1)
        assert second_interrupt.wait(30)
        order.append("writer done")

    with pytest.raises(Interrupt) as raised, pageio._writers(1, "test") as pool:
        pool.submit(writer)
        assert begun.wait(30)  # begun, so not cancelled: it must be waited for
        raise first
    order.append("caller left")
    assert order == ["writer done", "caller left"]
    # An interrupt going out stays the first; an error gives way to the interrupt after it.
    assert str(raised.value) == ("first" if isinstance(first, Interrupt) else "second")


def test_work_not_begun_is_cancelled_on_the_way_out() -> None:
    main = threading.get_ident()
    started: list[int] = []
    release = threading.Event()

    def job(i: int) -> None:
        started.append(i)
        assert release.wait(30)

    def release_once_draining() -> None:
        # Only once the caller is closing the pool may the first job end: ended any sooner,
        # its thread would take the next job as work still wanted.
        wait_until(lambda: waiting_for_writers(main), 30, "the caller waiting for its writers")
        release.set()

    with pytest.raises(RuntimeError), pageio._writers(1, "test") as pool:
        pool.submit(job, 0)
        later = [pool.submit(job, i) for i in range(1, 4)]
        wait_until(lambda: started, 30, "the first job starting")
        threading.Thread(target=release_once_draining).start()
        raise RuntimeError("stop")
    assert started == [0] and all(f.cancelled() for f in later)


def test_workers_that_loop_until_told_are_told_on_the_way_out() -> None:
    stop = threading.Event()
    running = threading.Event()
    saw: list[bool] = []

    def worker() -> None:
        # A benchmark's worker runs to its deadline unless stop is set (up to 900 s).
        running.set()
        saw.append(stop.wait(30))

    with pytest.raises(RuntimeError), pageio._writers(1, "test", stop) as pool:
        pool.submit(worker)
        assert running.wait(30)  # begun, so not cancelled: it must be told
        raise RuntimeError("interrupted before the engine's own stop")
    assert saw == [True]


def test_an_interrupt_inside_submit_leaves_no_work_unseen() -> None:
    # The work is queued, then the caller is interrupted before submit returns: the work
    # must still be waited for, or cancelled.
    main = threading.get_ident()
    ended: list[str] = []
    begun, may_end = threading.Event(), threading.Event()

    class QueuedThenInterrupted:
        def __init__(self, real: Any) -> None:
            self.real = real

        def put(self, item: Any) -> None:
            self.real.put(item)
            if item is not None:
                assert begun.wait(30)  # the work runs (its future marked running) ...
                raise Interrupt("inside submit")  # ... and submit never returns

        def get(self) -> Any:
            return self.real.get()

    def write() -> None:
        begun.set()
        assert may_end.wait(30)
        ended.append("write")

    def end_once_the_caller_waits() -> None:
        wait_until(lambda: waiting_for_writers(main), 30, "the caller waiting for its writers")
        may_end.set()

    helper = threading.Thread(target=end_once_the_caller_waits)
    helper.start()
    try:
        with pytest.raises(Interrupt), pageio._writers(1, "test") as pool:
            pool._queue = QueuedThenInterrupted(pool._queue)  # type: ignore[assignment]
            pool.submit(write)
        ended.append("caller left")
    finally:
        may_end.set()
        helper.join(60)
    assert ended == ["write", "caller left"]


def raising_at(code: CodeType, line: int, times: int = 1) -> Any:
    """A tracer that raises Interrupt the ``times``-th time ``code`` reaches ``line``."""
    seen = [0]

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code is not code:
            return None
        if event == "line" and frame.f_lineno == line:
            seen[0] += 1
            if seen[0] == times:
                raise Interrupt(f"at line {line}")  # the tracer is unset by this
        return tracer

    return tracer


def test_an_interrupt_while_the_threads_start_leaves_none_running() -> None:
    start = pageio._WriterPool.start.__code__
    line = next(n for n in _lines_of(start) if "thread.start()" in source(n))
    sys.settrace(raising_at(start, line, times=3))  # two threads started, the third not
    try:
        with pytest.raises(Interrupt), pageio._writers(4, "half-made"):
            pass
    finally:
        sys.settrace(None)
    for thread in [t for t in threading.enumerate() if t.name.startswith("half-made_")]:
        thread.join(30)
        assert not thread.is_alive(), f"{thread.name} still waits for work"


def _lines_of(code: CodeType) -> list[int]:
    """The lines of a function's body, in order, as the tracer sees them."""
    return sorted({n for _, n in dis.findlinestarts(code) if n and n > code.co_firstlineno})


def source(line: int) -> str:
    return linecache.getline(pageio.__file__, line).strip()


@pytest.mark.parametrize(
    "line",
    _lines_of(pageio._WriterPool.submit.__code__),
    ids=source,
)
def test_an_interrupt_at_any_line_of_submit_neither_hangs_the_drain_nor_leaves_work(
    line: int,
) -> None:
    # A tracer raises the interrupt as ``submit`` reaches ``line``: a registered future the
    # drain cancels but never hears of would make it wait forever, so the caller runs in a
    # thread of its own, watched.
    code = pageio._WriterPool.submit.__code__
    left = threading.Event()
    ran_after_leaving: list[bool] = []
    outcome: list[str] = []
    pools: list[pageio._WriterPool] = []

    def caller() -> None:
        try:
            with pageio._writers(1, "test") as pool:
                pools.append(pool)
                sys.settrace(raising_at(code, line))
                try:
                    pool.submit(lambda: ran_after_leaving.append(left.is_set()))
                finally:
                    sys.settrace(None)
        except Interrupt:
            outcome.append("interrupted")
        else:
            outcome.append("submitted")
        left.set()

    thread = threading.Thread(target=caller, daemon=True)
    thread.start()
    thread.join(30)  # a watchdog, not a wait for speed: the drain ends at once or never
    assert not thread.is_alive(), f"an interrupt at line {line} of submit hangs the drain"
    for worker in pools[0]._started:  # whatever was queued has run, or never will
        worker.join(30)
        assert not worker.is_alive(), "a writer thread outlives its pool"
    assert outcome in (["interrupted"], ["submitted"])
    assert ran_after_leaving in ([], [False]), "work ran after the caller had left"


class InterruptedOnce(threading.Event):
    """A stop event whose first ``set`` is interrupted before it sets anything."""

    def __init__(self) -> None:
        super().__init__()
        self.tries = 0

    def set(self) -> None:
        self.tries += 1
        if self.tries == 1:
            raise Interrupt("while telling the workers to stop")
        super().set()


def test_an_interrupt_while_telling_the_workers_to_stop_still_tells_and_waits() -> None:
    stop = InterruptedOnce()
    running = threading.Event()
    saw: list[bool] = []

    def worker() -> None:
        running.set()
        saw.append(stop.wait(30))

    with pytest.raises(Interrupt), pageio._writers(1, "test", stop) as pool:
        pool.submit(worker)
        assert running.wait(30)
        raise RuntimeError("the engine failed")
    # The caller left only after the worker was told and had ended.
    assert saw == [True] and stop.tries == 2


DRAIN = pageio._WriterPool.drain.__code__
#: The drain's first line inside its retry loop's ``try``: from there on, and in all it
#: calls, an interrupt must be survived. Before it (the call's entry, ``_writers``'s own
#: lines) is the window ARCHITECTURE.md states: closing it needs the signals held.
DRAIN_TRY = next(n for n in _lines_of(DRAIN) if source(n) == "try:") + 1


@functools.cache
def signal_points(code: CodeType) -> frozenset[int]:
    """The instructions at which a tracer's raise lands where Python 3.11 may run a
    signal's handler: a function's entry (RESUME), a loop's back edge, and the end of each
    call. A call's end is checked inside the CALL, so its exception is handled as the
    CALL's: the raise goes before the next instruction when that one is handled alike,
    else before the CALL itself. A tracer that raised at every line would raise where no
    signal can land (between a ``with`` body and its ``__exit__`` call, say) and find
    deadlocks that no real interrupt can cause."""
    table = dis._parse_exception_table(code)  # type: ignore[attr-defined]

    def handler(offset: int) -> int | None:
        return next((e.target for e in table if e.start <= offset < e.end), None)

    ins = list(dis.get_instructions(code))
    points = {i.offset for i in ins if i.opname in ("RESUME", "JUMP_BACKWARD")}
    for call, after in itertools.pairwise(ins):
        if call.opname == "CALL":
            same = handler(after.offset) == handler(call.offset)
            points.add(after.offset if same else call.offset)
    return frozenset(points)


#: A weakref callback (a WeakSet's ``_remove``, as a thread object is freed) runs inside
#: whatever frame is current; an exception raised in it cannot reach that frame (Python
#: prints it as unraisable and drops it), so no step is counted there: the interrupt is
#: meant for the drain's own code (it made rounds 177, 181, 182 and 187 warn). The
#: collector's own callbacks (hypothesis registers one) are kept out by disabling it
#: while the tracer runs.
GC_CALLBACKS = frozenset({_weakrefset.__file__})


def in_the_drains_loop(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs inside the drain's retry loop: its body, or under it."""
    while frame is not None:
        if frame.f_code is DRAIN:
            return frame.f_lineno >= DRAIN_TRY
        frame = frame.f_back
    return False


def drain_interrupted_at(step: int, stop: Any = None) -> tuple[bool, list[str]]:
    """Leave a pool with one write in flight; the ``step``-th point where a signal could
    land (``signal_points``) in the drain's retry loop, or in what it calls, raises a second
    interrupt. Returns whether that step came, and the order of the write's
    end and the caller's leaving."""
    order: list[str] = []
    fired: list[bool] = []
    seen = [0]
    may_end = threading.Event()
    pools: list[pageio._WriterPool] = []

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if (
            event == "opcode"
            and not fired
            and frame.f_lasti in signal_points(frame.f_code)
            and frame.f_code.co_filename not in GC_CALLBACKS
            and in_the_drains_loop(frame)
        ):
            seen[0] += 1
            if seen[0] == step:
                fired.append(True)
                raise Interrupt(f"at step {step}")
        return tracer

    begun = threading.Event()

    def write() -> None:
        begun.set()
        assert may_end.wait(30)
        order.append("write ended")

    def caller() -> None:
        collecting = gc.isenabled()
        main = threading.get_ident()
        threading.Thread(
            target=lambda: (
                wait_until(lambda: waiting_for_writers(main), 30, "the caller draining"),
                may_end.set(),
            )
        ).start()
        try:
            with pageio._writers(1, "steps", stop) as pool:
                pools.append(pool)
                pool.submit(write)
                assert begun.wait(30)  # running, so not cancelled: it must be waited for
                gc.disable()
                sys.settrace(tracer)
                raise RuntimeError("first")
        except BaseException:
            pass
        finally:
            sys.settrace(None)
            if collecting:
                gc.enable()
            order.append("caller left")
            may_end.set()  # a caller that left without waiting has its write end after

    thread = threading.Thread(target=caller, daemon=True)
    thread.start()
    thread.join(30)  # a watchdog: the drain ends once the write does, or never
    assert not thread.is_alive(), f"an interrupt at step {step} of the drain hangs it"
    for worker in pools[0]._started:
        worker.join(30)
        assert not worker.is_alive(), "a writer thread outlives its pool"
    return bool(fired), order


@pytest.mark.parametrize("stop", [None, pageio._Stop], ids=["no-stop", "the-engines-stop"])
def test_an_interrupt_at_any_step_of_the_drain_neither_hangs_it_nor_cuts_it_short(
    stop: Any,
) -> None:
    # Every step, until the drain has fewer steps than that: concurrent.futures.wait, for
    # one, holds each future's lock in a loop that an interrupt can leave, and the writer
    # that must set the result then blocks for ever; so would threading.Event.set's lock
    # the drain's next set().
    step = 0
    while True:
        step += 1
        assert step < 5000, "the drain never ends its steps"
        fired, order = drain_interrupted_at(step, stop() if stop else None)
        assert order == ["write ended", "caller left"], f"step {step}: {order}"
        if not fired:
            break
    assert step > 10  # the drain was stepped through, not skipped


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_worker_that_fails_outside_its_work_still_ends_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Settling the future fails (a bug, say): the work still counts as ended, or the
    # caller's wait for it would never return.
    def broken(self: Any, result: Any) -> None:
        raise RuntimeError("cannot settle")

    monkeypatch.setattr(pageio._Work, "set_result", broken)
    ran: list[int] = []
    with pageio._writers(1, "broken") as pool:
        # One thread: the second piece runs only if the first one's failure left it alive.
        pending = [pool.submit(ran.append, n) for n in (1, 2)]
        assert pool.wait(pending, 30) == []
        assert ran == [1, 2]
        # The caller's waits learn of it without the future's lock (its exception() would
        # wait for ever on a future never settled).
        with pytest.raises(RuntimeError, match="cannot settle"):
            pageio._supervise(pool, pending, pageio._Stop(), lambda: None)
