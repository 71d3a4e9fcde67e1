"""Burn-in: make the kernel really swap to an active area, under a memory cgroup's limit.

A child process (the hog) joins a fresh memory cgroup (v1, or v2 where that is what the
host has: see cgroups.py) whose hard limit is far below what it touches, so the kernel must
push its pages out to swap and fault them back in.
The hog writes pages whose content it can predict, and checks every page it reads back,
so a burn-in also proves that what went out to this area came back unchanged.

Host safety: the hog's size is its own, bounded, and checked against the area's free
space and the memory limit against MemAvailable before anything starts; the cgroup caps
the hog's RAM (and RAM plus swap where the kernel accounts swap), so the host never feels
it. The hog is killed and the cgroup removed on every exit path.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from . import cgroups, kernel
from .base import SwapBackend
from .errors import BackendError, UnsafeError, ValidationError

ProgressFn = Callable[[int, int], None]
#: Asked at every sample: True stops the burn-in (``BurnInCancelled``); an error it raises
#: (the caller's look at the area, refused) stops it too, and is raised as it is.
CancelFn = Callable[[], bool]


class BurnInCancelled(BackendError):
    """The burn-in was stopped by its ``cancel`` before its time was up: the hog was killed
    and reaped and its cgroup removed, as on every exit; the area was only swapped to."""


#: Where distributions mount the v1 memory hierarchy; the one used is read from mountinfo.
CGROUP_ROOT: Final = Path("/sys/fs/cgroup/memory")
CGROUP_PREFIX: Final = "swapadmin-burnin-"
#: The memory limit may take at most this share of MemAvailable.
MAX_AVAILABLE_SHARE: Final = 0.5
MIN_LIMIT_BYTES: Final = 16 * 1024 * 1024
MAX_SECONDS: Final = 24 * 3600
SAMPLE_INTERVAL: Final = 0.25
#: How long past its deadline the hog may take to finish a pass and report.
GRACE_SECONDS: Final = 30.0

# The hog: waits for "go" on stdin (sent once it is inside the cgroup), then rewrites every
# page each pass with content that depends on (page, pass), checking the previous pass's
# content first: mixed incompressible noise, byte patterns and mostly-zero pages.
HOG: Final = r"""
import ctypes, mmap, os, signal, sys, time, json
size, seconds, worker = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
# Die with the worker (PR_SET_PDEATHSIG): SIGKILLed, it cannot kill the hog, which would
# otherwise run on for up to a day. Had the worker died already, the signal never comes.
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
if os.getppid() != worker:
    sys.exit(1)
with open("/proc/self/oom_score_adj", "w") as f:
    f.write("1000")
sys.stdin.readline()
P = 4096
noise = os.urandom(1 << 20)
patterns = [bytes([b]) * P for b in range(256)]
def content(i, p):
    kind = i % 4
    if kind < 2:
        at = (i * 4099 + p * 131) % (len(noise) - P)
        return noise[at:at + P]
    if kind == 2:
        return patterns[(i + p) & 0xFF]
    return (i * 1000003 + p).to_bytes(8, "little") + bytes(P - 8)
n = size // P
buf = mmap.mmap(-1, n * P)
deadline = time.monotonic() + seconds
passes = checked = corrupt = 0
while time.monotonic() < deadline:
    for i in range(n):
        off = i * P
        if passes:
            checked += 1
            if buf[off:off + P] != content(i, passes - 1):
                corrupt += 1
        buf[off:off + P] = content(i, passes)
        if i % 256 == 0 and time.monotonic() >= deadline:
            break
    else:
        passes += 1
        continue
    break
print(json.dumps({"passes": passes, "pages_checked": checked, "corrupt_pages": corrupt}))
"""


@dataclass(frozen=True)
class BurnInResult:
    """What the kernel did with the area while the hog ran (vmstat counters are pages,
    host-wide deltas; ``peak_used_bytes`` is this area's own)."""

    pswpin: int
    pswpout: int
    peak_used_bytes: int
    seconds: float
    oom_kills: int
    #: Times the RAM limit was hit (v1 memory.failcnt, v2 ``max`` in memory.events).
    failcnt: int
    passes: int
    pages_checked: int
    corrupt_pages: int
    #: The cgroup the hog ran in (removed by the time this is returned).
    cgroup: str
    #: 1 or 2: the cgroup version the hog ran under.
    cgroup_version: int
    #: The most swap charged to the hog's cgroup (None where the kernel does not account
    #: swap per cgroup): the swap the hog itself really used, unlike the host-wide counters.
    cgroup_swap_peak_bytes: int | None
    #: How the hog ended, as subprocess says it: 0 when it finished and reported, another
    #: exit status, or minus the signal that killed it (SIGBUS: a page the kernel could not
    #: read back from swap). None when not known: never taken for a clean end.
    hog_returncode: int | None = None
    #: The hog was still running past its deadline and the grace, and was killed here.
    hog_overstayed: bool = False

    @property
    def problems(self) -> list[str]:
        """Why the burn-in does not prove the area, one sentence each; empty if it does."""
        out = []
        if self.peak_used_bytes <= 0:
            out.append("the kernel swapped nothing to this area")
        if self.corrupt_pages:
            out.append(f"{self.corrupt_pages} page(s) came back from swap changed")
        if self.oom_kills:
            out.append(f"the hog was OOM-killed {self.oom_kills} time(s)")
        ended = how_the_hog_ended(self.hog_returncode, self.hog_overstayed)
        if ended:
            out.append(ended)
        if self.passes < 1 or self.pages_checked < 1:
            # A pass checks what the one before it wrote: without a full pass and a page
            # checked after it, nothing that went out to swap was seen to come back whole.
            out.append(
                f"the hog checked no page it read back ({self.passes} full pass(es); a page "
                "is checked by the pass after the one that wrote it)"
            )
        return out

    @property
    def healthy(self) -> bool:
        """The area took pages and gave back what it took unchanged: the hog finished at
        least one full pass and checked pages after it, exited cleanly with its report, and
        nothing was killed."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy, "problems": self.problems}


def how_the_hog_ended(returncode: int | None, overstayed: bool) -> str:
    """The sentence for a hog that did not finish cleanly; "" for one that did."""
    if overstayed:
        return (
            f"the hog was still running {GRACE_SECONDS:.0f} s past its deadline and was "
            "killed (the area or the host too slow to finish a pass?)"
        )
    if returncode is None:
        return "how the hog ended is not known"
    if returncode > 0:
        return f"the hog exited with status {returncode} instead of reporting"
    if returncode < 0:
        number = -returncode
        try:
            name = f"{signal.Signals(number).name} (signal {number})"
        except ValueError:
            name = f"signal {number}"
        why = {
            int(signal.SIGBUS): ": a page it touched could not be read back (an I/O error "
            "on swap-in)",
            int(signal.SIGKILL): " (the OOM killer, or someone else)",
        }.get(number, "")
        return f"the hog was killed by {name}{why}"
    return ""


def burn_in(
    backend: SwapBackend,
    *,
    memory_limit_bytes: int,
    hog_bytes: int,
    seconds: float,
    progress: ProgressFn | None = None,
    hierarchy: cgroups.Hierarchy | None = None,
    cancel: CancelFn | None = None,
) -> BurnInResult:
    """Run a hog of ``hog_bytes`` for ``seconds`` in a memory cgroup limited to
    ``memory_limit_bytes``, so the kernel swaps to the (active) area. The cgroup is made in
    ``hierarchy``, by default the one the host has (``cgroups.find_hierarchy``).

    Guarantees: refuses, before starting anything, an inactive area, a hog larger than the
    area's free space plus the limit (it would be OOM-killed), and a limit above half of
    MemAvailable or of what the limits of the cgroup it runs under leave. On every exit
    path the hog is killed and reaped and the cgroup removed; should the worker itself be
    SIGKILLed, the hog dies with it and the next burn-in removes the cgroup it left.
    ``progress(ms_done, ms_total)`` is called about four times a second, and ``cancel()``
    as often: True stops the hog there and raises ``BurnInCancelled`` (a burn-in may be
    asked to run for a day, and a person who cancels it wants the memory back now); an
    error ``cancel()`` raises (a caller's look at the area, refused) stops it there too.
    """
    _check_args(memory_limit_bytes, hog_bytes, seconds)
    area = _active_area(backend)
    hierarchy = cgroups.find_hierarchy() if hierarchy is None else hierarchy
    _check_fits(area, memory_limit_bytes, hog_bytes, hierarchy.headroom())
    # A burn-in whose worker was SIGKILLed left its cgroup (and the hog, had it outlived
    # the worker): taken down now, before a new one is made next to it.
    hierarchy.remove_orphans(CGROUP_PREFIX)
    name = cgroups.owned_name(CGROUP_PREFIX, secrets.token_hex(4))
    # Swap: the hog's own size and some slack, a second bound should it ever outgrow it.
    swap = hog_bytes + MIN_LIMIT_BYTES
    with hierarchy.memory_cgroup(name, ram=memory_limit_bytes, swap=swap) as cg:
        before = kernel.vmstat()
        started = time.monotonic()
        with _hog(cg, hog_bytes, seconds) as child:
            peak, swap_peak = _watch(child, cg, backend.swap_path, seconds, progress, cancel)
            overstayed = child.poll() is None
            report = _report(child)
        # Reaped by now (killed first, had it overstayed): how it ended is known.
        returncode = child.returncode
        after = kernel.vmstat()
        use = cg.use()
    if use.swap_peak_bytes is not None:
        swap_peak = max(swap_peak or 0, use.swap_peak_bytes)
    return BurnInResult(
        pswpin=after.get("pswpin", 0) - before.get("pswpin", 0),
        pswpout=after.get("pswpout", 0) - before.get("pswpout", 0),
        peak_used_bytes=peak,
        seconds=round(time.monotonic() - started, 3),
        oom_kills=use.oom_kills,
        failcnt=use.limit_hits,
        passes=int(report.get("passes", 0)),
        pages_checked=int(report.get("pages_checked", 0)),
        corrupt_pages=int(report.get("corrupt_pages", 0)),
        cgroup=str(cg),
        cgroup_version=cg.version,
        cgroup_swap_peak_bytes=swap_peak,
        hog_returncode=returncode,
        hog_overstayed=overstayed,
    )


def _check_args(memory_limit_bytes: int, hog_bytes: int, seconds: float) -> None:
    if memory_limit_bytes < MIN_LIMIT_BYTES:
        raise ValidationError(
            f"the memory limit must be at least {MIN_LIMIT_BYTES >> 20} MiB, so the hog "
            "itself can start",
            field="memory_limit_bytes",
        )
    if hog_bytes <= 0:
        raise ValidationError("the hog size must be positive", field="hog_bytes")
    if not 0 < seconds <= MAX_SECONDS:
        raise ValidationError(
            f"a burn-in runs for more than 0 and at most {MAX_SECONDS} seconds", field="seconds"
        )


def _active_area(backend: SwapBackend) -> kernel.SwapArea:
    area = kernel.find_area(backend.swap_path)
    if area is None:
        raise ValidationError(
            f"{backend.swap_path} is not active in /proc/swaps: a burn-in needs the kernel to "
            "swap to it. Activate it first (with a high priority, so the kernel prefers it)."
        )
    return area


def _check_fits(area: kernel.SwapArea, limit: int, hog: int, headroom: int | None) -> None:
    free = area.size_bytes - area.used_bytes
    if hog > free + limit:
        raise UnsafeError(
            f"a hog of {hog >> 20} MiB needs more than the area's free {free >> 20} MiB plus "
            f"the {limit >> 20} MiB limit: it would be OOM-killed. Use a smaller hog.",
            field="hog_bytes",
        )
    available = kernel.meminfo().mem_available
    if limit > available * MAX_AVAILABLE_SHARE:
        raise UnsafeError(
            f"a memory limit of {limit >> 20} MiB is more than {MAX_AVAILABLE_SHARE:.0%} of "
            f"the host's available {available >> 20} MiB; the burn-in could starve the host. "
            "Use a smaller limit.",
            field="memory_limit_bytes",
        )
    # The hog's cgroup is charged against its parents' limits too (a container's, a
    # systemd slice's): near one of those, reclaim and the OOM killer would hit whatever
    # else runs under it (the worker, the database) long before the host ran short.
    if headroom is not None and limit > headroom * MAX_AVAILABLE_SHARE:
        raise UnsafeError(
            f"a memory limit of {limit >> 20} MiB is more than {MAX_AVAILABLE_SHARE:.0%} of "
            f"the {headroom >> 20} MiB the memory limits of the cgroup the burn-in runs "
            "under still leave; the burn-in could starve what else runs there. Use a "
            "smaller limit.",
            field="memory_limit_bytes",
        )


@contextlib.contextmanager
def _hog(
    cg: cgroups.MemoryCgroup, hog_bytes: int, seconds: float
) -> Iterator[subprocess.Popen[str]]:
    """The hog, moved into ``cg`` before it allocates; killed and reaped on exit."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOG, str(hog_bytes), str(seconds), str(os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        close_fds=True,
    )
    try:
        cg.enter(child.pid)
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.close()
        yield child
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()


def _watch(
    child: subprocess.Popen[str],
    cg: cgroups.MemoryCgroup,
    path: str,
    seconds: float,
    progress: ProgressFn | None,
    cancel: CancelFn | None = None,
) -> tuple[int, int | None]:
    """Sample the area's use and the cgroup's swap until the hog exits (or overstays);
    returns both peaks in bytes (the cgroup's None where the kernel does not account it).
    ``BurnInCancelled`` once ``cancel()`` says so, and whatever ``cancel()`` raises: ``_hog``
    then kills and reaps the hog."""
    started = time.monotonic()
    total_ms = int(seconds * 1000)
    peak = 0
    swap_peak: int | None = None
    while child.poll() is None and time.monotonic() - started < seconds + GRACE_SECONDS:
        area = kernel.find_area(path)
        peak = max(peak, area.used_bytes if area else 0)
        swapped = cg.use().swap_bytes
        if swapped is not None:
            swap_peak = max(swap_peak or 0, swapped)
        if progress is not None:
            progress(min(total_ms, int((time.monotonic() - started) * 1000)), total_ms)
        if cancel is not None and cancel():
            raise BurnInCancelled(
                # Neutral: a cancel asked, or the job failed meanwhile (the runner says which).
                f"the burn-in of {path} was stopped after "
                f"{time.monotonic() - started:.1f} s of {seconds:g}: the hog was killed"
            )
        time.sleep(SAMPLE_INTERVAL)
    area = kernel.find_area(path)
    peak = max(peak, area.used_bytes if area else 0)
    if progress is not None:
        progress(total_ms, total_ms)
    return peak, swap_peak


def _report(child: subprocess.Popen[str]) -> dict[str, Any]:
    """The hog's own account (passes, pages checked, corrupt pages); empty if it was killed
    or failed, which ``hog_returncode`` says (no pass then, so no healthy verdict)."""
    if child.poll() is None or child.returncode != 0 or child.stdout is None:
        return {}
    try:
        out: dict[str, Any] = json.loads(child.stdout.read() or "{}")
    except ValueError:
        return {}
    return out
