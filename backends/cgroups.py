"""Memory cgroups for a burn-in's hog, on cgroup v1 or v2: whichever the host has.

One interface (``Hierarchy`` makes a ``MemoryCgroup``; the cgroup takes a pid, reports its
memory counters and removes itself) with a v1 and a v2 implementation:

- v1: a child of the memory hierarchy with ``memory.limit_in_bytes`` (RAM),
  ``memory.memsw.limit_in_bytes`` (RAM plus swap, where the kernel accounts swap) and
  ``memory.swappiness`` 100.
- v2: a child of the cgroup2 hierarchy's root with ``memory.max`` (RAM), ``memory.swap.max``
  (swap alone) and ``memory.zswap.max`` 0. v2 has no per-cgroup swappiness: a child takes
  the global ``vm.swappiness`` when it is made, and reclaim at ``memory.max`` is what pushes
  the hog's anonymous pages out. That works at any swappiness but 0, where cgroup reclaim
  scans file pages only (mm/vmscan.c, get_scan_count) and the hog would be OOM-killed
  instead of swapping: v2 refuses that host setting rather than change it.

Which one: v1 where a v1 hierarchy holds the memory controller (a controller bound to a v1
hierarchy is never available in v2), otherwise v2. Both are found in /proc/self/mountinfo,
never at a guessed path, a mount of the whole hierarchy before a mount of one cgroup.
Nothing here touches a cgroup it did not create, except enabling the memory controller for
the children of the v2 parent when it is not enabled yet (the kernel's only way to give a
child ``memory.max``); it is left enabled, as systemd has it. ``remove_orphans`` removes
cgroups a process of this program made, proven dead by the pid and start time in the name.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import select
import signal
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final

from . import kernel
from .errors import BackendError, KernelError

MEMORY: Final = "memory"
#: How long removal waits for the kernel to let the last task of a killed cgroup go.
REMOVE_TIMEOUT: Final = 30.0


# ---- where the hierarchies are mounted ----


@dataclass(frozen=True)
class Mount:
    point: Path
    fstype: str
    super_options: tuple[str, ...]
    #: The cgroup of the hierarchy shown at ``point``: ``/`` for a mount of the hierarchy's
    #: root, a path for a bind mount of one cgroup (a container's), ``/..`` and the like
    #: for a mount made in another cgroup namespace.
    root: str = "/"


def parse_mountinfo(text: str) -> list[Mount]:
    """The cgroup mounts in a /proc/<pid>/mountinfo text."""
    return [
        Mount(Path(m.mount_point), m.fstype, m.super_options, root=m.root)
        for m in kernel.parse_mountinfo(text)
        if m.fstype in ("cgroup", "cgroup2")
    ]


def _whole_first(mounts: list[Mount]) -> list[Mount]:
    # A mount of some cgroup other than the root (a container's cgroup bind-mounted into
    # its rootfs, a mount from another cgroup namespace) would put the burn-in's cgroup
    # inside a cgroup someone else made, under that one's limits. The whole hierarchy is
    # taken where this namespace has it; a lone bind mount only where it is all there is
    # (inside a container, whose own cgroup it is).
    return sorted(mounts, key=lambda m: m.root != "/")


def cgroup_mounts() -> list[Mount]:
    return parse_mountinfo(kernel.read_names("/proc/self/mountinfo"))


def v1_memory_mount(mounts: list[Mount]) -> Path | None:
    for m in _whole_first(mounts):
        if m.fstype == "cgroup" and MEMORY in m.super_options:
            return m.point
    return None


def v2_mount(mounts: list[Mount]) -> Path | None:
    # There is one cgroup2 hierarchy, but a mount may show only part of it.
    for m in _whole_first(mounts):
        if m.fstype == "cgroup2":
            return m.point
    return None


# ---- what a cgroup reports ----


@dataclass(frozen=True)
class MemoryUse:
    oom_kills: int
    #: Times the RAM limit was hit (v1 ``memory.failcnt``, v2 ``max`` in memory.events).
    limit_hits: int
    #: Swap charged to the cgroup now, and at most so far; None where the kernel does not
    #: account swap per cgroup (or, for the peak, keeps no peak: v1, and v2 before 6.5).
    swap_bytes: int | None
    swap_peak_bytes: int | None


def parse_flat_keyed(text: str) -> dict[str, int]:
    """``key value`` lines, as memory.events, memory.stat and cgroup.events have them."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            out[key] = int(value)
    return out


def _read_int(path: Path) -> int | None:
    """A counter a report shows, None when the kernel keeps none here (a swap figure
    without swap accounting). Never for a limit a check weighs: ``_read_figure`` is."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _unreadable(cg: Path, path: Path, what: str, errno: int | None = None) -> KernelError:
    return KernelError(
        f"cannot tell how much memory cgroup {cg} leaves to a burn-in: {path} {what}. A "
        "burn-in keeps its limit within half of what the memory limits of the cgroups it "
        "runs under leave, and does not start without knowing it",
        errno=errno,
    )


def _read_figure(cg: Path, name: str, *, no_limit: str | None = None) -> int | None:
    """The number in ``cg``'s file ``name``; None for ``no_limit`` (v2's ``max``). A file
    that is missing, unreadable or holds anything else raises KernelError: a limit that
    cannot be read is not the absence of one."""
    path = cg / name
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        raise _unreadable(cg, path, "does not exist", errno=errno.ENOENT) from None
    except OSError as e:
        raise _unreadable(cg, path, f"cannot be read: {e.strerror}", errno=e.errno) from e
    if no_limit is not None and text == no_limit:
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise _unreadable(cg, path, f"holds {text[:40]!r}, not a number of bytes")
    return value


def _read_bytes(cg: Path, name: str) -> int:
    value = _read_figure(cg, name)
    assert value is not None  # no word for "no limit" was given
    return value


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as e:
        raise KernelError(f"cannot write {value!r} to {path}: {e.strerror}", errno=e.errno) from e


# ---- the interface ----


class MemoryCgroup(ABC):
    """A cgroup this process made, with a memory limit. ``remove`` kills what is left in
    it and removes it; it is safe to call twice."""

    version: ClassVar[int]

    def __init__(self, path: Path) -> None:
        self.path = path

    def enter(self, pid: int) -> None:
        _write(self.path / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except FileNotFoundError:
            return []

    def kill_each(self, deadline: float) -> None:
        """SIGKILL every task in the cgroup, reading the list again until it is empty (or
        ``deadline``, a time.monotonic() value, passes): a task that forks between the read
        and the kill escapes one pass, and would keep the cgroup busy for ever."""
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            # Killed tasks stay listed until the kernel has torn them down: let it run, without
            # spinning a CPU should one be stuck (D state) until the deadline.
            time.sleep(0.001)

    @abstractmethod
    def use(self) -> MemoryUse: ...

    @abstractmethod
    def remove(self, timeout: float = REMOVE_TIMEOUT) -> None: ...

    def __str__(self) -> str:
        return str(self.path)


# ---- whose cgroup it is ----


def _start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (proc(5) stat field 22), or None if
    there is no such process: with the pid, it names one process for as long as the host
    runs, where a pid alone may have been reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces, parentheses and bytes that are not
    # UTF-8 (a process names itself): read as bytes, counted after the last ')'.
    return int(stat.rsplit(b")", 1)[1].split()[19])


def _pid_namespace() -> int:
    return os.stat("/proc/self/ns/pid").st_ino


def owned_name(prefix: str, token: str) -> str:
    """A cgroup name saying which process made it: ``prefix``, this process's pid
    namespace, pid and start time, then ``token``. A worker killed before it could remove
    its cgroup leaves one that ``Hierarchy.remove_orphans`` can prove is nobody's."""
    pid = os.getpid()
    return f"{prefix}{_pid_namespace()}-{pid}-{_start_time(pid)}-{token}"


def _owner_is_gone(prefix: str, name: str) -> bool:
    m = re.fullmatch(rf"{re.escape(prefix)}(\d+)-(\d+)-(\d+)-[0-9a-z]+", name)
    if m is None:
        return False  # not a name owned_name makes: not provably ours, left alone
    ns, pid, started = (int(g) for g in m.groups())
    if ns != _pid_namespace():
        return False  # made by a process this one cannot see: maybe alive, left alone
    return _start_time(pid) != started


class Hierarchy(ABC):
    """A mounted hierarchy with the memory controller, where memory cgroups are made."""

    version: ClassVar[int]

    def __init__(self, parent: Path) -> None:
        #: The cgroup the new ones are made in.
        self.parent = parent

    @abstractmethod
    def check(self) -> None:
        """Raise a BackendError naming why no memory cgroup can be made here; change nothing
        but what making one needs."""

    @abstractmethod
    def _setup(self, cg: Path, *, ram: int, swap: int) -> MemoryCgroup: ...

    def remove_orphans(self, prefix: str) -> list[Path]:
        """Kill the tasks of, and remove, the cgroups named by ``owned_name(prefix, ...)``
        whose maker has died (SIGKILLed, OOM-killed, the host's hard time limit) before it
        could remove them. Cgroups of a live maker, in another pid namespace or not named
        that way are not touched. Returns the ones removed."""
        removed = []
        for child in sorted(self.parent.glob(f"{glob.escape(prefix)}*")):
            if child.is_dir() and not child.is_symlink() and _owner_is_gone(prefix, child.name):
                self._wrap(child).remove()
                removed.append(child)
        return removed

    @abstractmethod
    def headroom(self) -> int | None:
        """The bytes the parent's own memory limits (and its ancestors' in this mount)
        still leave to a new child, or None where none is set: inside a container, less
        than the host's MemAvailable."""

    @contextlib.contextmanager
    def memory_cgroup(self, name: str, *, ram: int, swap: int) -> Iterator[MemoryCgroup]:
        """A fresh cgroup ``name`` whose tasks may use ``ram`` bytes of RAM and about
        ``swap`` bytes of swap; killed and removed on every exit path."""
        self.check()
        path = self.parent / name
        try:
            path.mkdir()
        except OSError as e:
            raise KernelError(f"cannot create cgroup {path}: {e.strerror}", errno=e.errno) from e
        cg = self._wrap(path)
        try:
            cg = self._setup(path, ram=ram, swap=swap)
            yield cg
        finally:
            cg.remove()

    @abstractmethod
    def _wrap(self, path: Path) -> MemoryCgroup: ...


# ---- cgroup v1 ----


class V1Cgroup(MemoryCgroup):
    version = 1

    def use(self) -> MemoryUse:
        kills = 0
        with contextlib.suppress(OSError):
            kills = parse_flat_keyed((self.path / "memory.oom_control").read_text()).get(
                "oom_kill", 0
            )
        swap = None
        with contextlib.suppress(OSError):
            # Present only where the kernel accounts swap per cgroup (memsw).
            swap = parse_flat_keyed((self.path / "memory.stat").read_text()).get("swap")
        return MemoryUse(
            oom_kills=kills,
            limit_hits=_read_int(self.path / "memory.failcnt") or 0,
            swap_bytes=swap,
            swap_peak_bytes=None,
        )

    def remove(self, timeout: float = REMOVE_TIMEOUT) -> None:
        # v1 has no populated event and no cgroup.kill: rmdir fails with EBUSY until the
        # kernel has finished tearing the last task down, so it is retried, killing again
        # first (a task forked meanwhile is one more to kill).
        deadline = time.monotonic() + timeout
        while True:
            self.kill_each(deadline)
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as e:
                if time.monotonic() > deadline:
                    raise KernelError(
                        f"cannot remove cgroup {self.path}: {e.strerror}", errno=e.errno
                    ) from e
                time.sleep(0.05)


class V1Hierarchy(Hierarchy):
    version = 1

    def check(self) -> None:
        if not (self.parent / "memory.limit_in_bytes").exists():
            raise BackendError(
                f"{self.parent} is not a cgroup v1 memory hierarchy (no memory.limit_in_bytes)"
            )

    def _wrap(self, path: Path) -> MemoryCgroup:
        return V1Cgroup(path)

    def headroom(self) -> int | None:
        # Every cgroup of a v1 memory hierarchy, its root too, has both files: one missing
        # is an error, not the absence of a limit.
        least = None
        for cg in _up_the_mount(self.parent, "cgroup.procs"):
            limit = _read_figure(cg, "memory.limit_in_bytes")
            if limit is None or limit >= _v1_unlimited():
                continue
            least = _least(least, limit, _read_bytes(cg, "memory.usage_in_bytes"))
        return least

    def _setup(self, cg: Path, *, ram: int, swap: int) -> MemoryCgroup:
        _write(cg / "memory.swappiness", "100")
        _write(cg / "memory.limit_in_bytes", str(ram))
        if (cg / "memory.memsw.limit_in_bytes").exists():
            _write(cg / "memory.memsw.limit_in_bytes", str(ram + swap))
        return V1Cgroup(cg)


# ---- cgroup v2 ----


class V2Cgroup(MemoryCgroup):
    version = 2

    def events(self) -> dict[str, int]:
        """memory.events: low, high, max, oom, oom_kill, oom_group_kill."""
        try:
            return parse_flat_keyed((self.path / "memory.events").read_text())
        except FileNotFoundError:
            return {}

    def populated(self) -> bool:
        return parse_flat_keyed((self.path / "cgroup.events").read_text()).get("populated") == 1

    def use(self) -> MemoryUse:
        events = self.events()
        return MemoryUse(
            oom_kills=events.get("oom_kill", 0),
            limit_hits=events.get("max", 0),
            swap_bytes=_read_int(self.path / "memory.swap.current"),
            swap_peak_bytes=_read_int(self.path / "memory.swap.peak"),
        )

    def remove(self, timeout: float = REMOVE_TIMEOUT) -> None:
        if not self.path.exists():
            return
        deadline = time.monotonic() + timeout
        self.kill(deadline)
        self.wait_unpopulated(max(0.0, deadline - time.monotonic()))
        try:
            self.path.rmdir()
        except FileNotFoundError:
            return
        except OSError as e:
            raise KernelError(
                f"cannot remove cgroup {self.path}: {e.strerror}", errno=e.errno
            ) from e

    def kill(self, deadline: float) -> None:
        """SIGKILL every task in the cgroup, including ones forked while it is done."""
        if (self.path / "cgroup.kill").exists():  # 5.14+: atomic against forks
            _write(self.path / "cgroup.kill", "1")
            return
        self.kill_each(deadline)

    def wait_unpopulated(self, timeout: float) -> None:
        """Until ``populated 0`` in cgroup.events: the kernel notifies a change of that file
        (kernfs raises POLLPRI), so this waits for the event, not a guess."""
        deadline = time.monotonic() + timeout
        with open(self.path / "cgroup.events", "rb", buffering=0) as f:
            poller = select.poll()
            poller.register(f, select.POLLPRI | select.POLLERR)
            while True:
                f.seek(0)
                if parse_flat_keyed(f.read().decode()).get("populated") == 0:
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise KernelError(
                        f"cgroup {self.path} still has tasks {timeout:.0f} s after they were "
                        "killed; it is left in place",
                        errno=errno.EBUSY,
                    )
                poller.poll(int(left * 1000) + 1)


def controllers(cg: Path) -> list[str]:
    return (cg / "cgroup.controllers").read_text().split()


def enable_controller(parent: Path, name: str) -> None:
    """Enable controller ``name`` for the children of ``parent`` (cgroup.subtree_control),
    explaining the kernel's refusal in a sysadmin's words."""
    if name in (parent / "cgroup.subtree_control").read_text().split():
        return
    if name not in controllers(parent):
        raise BackendError(
            f"the {name} controller is not available in {parent} (its cgroup.controllers "
            f"lists: {' '.join(controllers(parent)) or 'nothing'})"
        )
    try:
        (parent / "cgroup.subtree_control").write_text(f"+{name}")
    except OSError as e:
        if e.errno == errno.EBUSY:
            raise BackendError(
                f"cannot enable the {name} controller for the children of {parent}: it holds "
                "processes of its own, and cgroup v2's no-internal-processes rule lets only a "
                "cgroup without processes (or the root) give controllers to children. Run the "
                "worker in a leaf cgroup (systemd: Delegate=yes and a sub-cgroup) or enable "
                f"{name} in {parent / 'cgroup.subtree_control'} from a cgroup without processes"
            ) from e
        raise KernelError(
            f"cannot enable the {name} controller in {parent / 'cgroup.subtree_control'}: "
            f"{e.strerror}",
            errno=e.errno,
        ) from e


def _up_the_mount(cg: Path, marker: str) -> Iterator[Path]:
    """``cg`` and its ancestors up to the top of the mount that shows them (each has
    ``marker``, as every cgroup of the hierarchy does): a child's charges count against
    every one of them. Above the mount is no cgroup, whatever the directory holds."""
    if not (cg / marker).exists():
        raise _unreadable(cg, cg / marker, "does not exist: not a cgroup of this hierarchy")
    device = cg.stat().st_dev
    while True:
        yield cg
        up = cg.parent
        if up == cg or not (up / marker).exists() or up.stat().st_dev != device:
            return
        cg = up


def _least(least: int | None, limit: int, used: int) -> int:
    left = max(0, limit - used)
    return left if least is None else min(least, left)


def _v1_unlimited() -> int:
    """What v1 shows for no limit (the root's, or ``-1`` written): PAGE_COUNTER_MAX pages,
    LONG_MAX rounded down to a page. Anything from there up limits nothing."""
    page = kernel.page_size()
    return (2**63 - 1) // page * page


def _is_the_root(cg: Path) -> bool:
    """Whether ``cg`` is the root of the cgroup2 hierarchy: the kernel gives every cgroup
    but the root a cgroup.type (4.14+), and no cgroup is above the root. The top of a mount
    of one cgroup (a container's) is no root: it has a cgroup.type, and a memory.max."""
    return not (cg / "cgroup.type").exists() and not (cg.parent / "cgroup.controllers").exists()


def vm_swappiness() -> int:
    return int(Path("/proc/sys/vm/swappiness").read_text())


class V2Hierarchy(Hierarchy):
    version = 2

    def check(self) -> None:
        if not (self.parent / "cgroup.controllers").exists():
            raise BackendError(f"{self.parent} is not a cgroup v2 cgroup (no cgroup.controllers)")
        if MEMORY not in controllers(self.parent):
            v1 = v1_memory_mount(cgroup_mounts())
            why = (
                f"the memory controller is bound to the cgroup v1 hierarchy at {v1}, and a "
                "controller a v1 hierarchy holds is not available in v2"
                if v1
                else "the kernel offers no memory controller here (cgroup_disable=memory, or "
                "a parent that does not delegate it)"
            )
            raise BackendError(
                f"no memory controller in the cgroup v2 hierarchy at {self.parent}: {why}. "
                f"Its cgroup.controllers lists: {' '.join(controllers(self.parent)) or 'nothing'}"
            )
        if vm_swappiness() == 0:
            raise BackendError(
                "vm.swappiness is 0: on cgroup v2 a cgroup's reclaim then never swaps "
                "anonymous pages, so the hog would be OOM-killed instead of swapping to the "
                "area (v2 has no per-cgroup swappiness). Set vm.swappiness above 0 for the "
                "burn-in"
            )
        enable_controller(self.parent, MEMORY)

    def _wrap(self, path: Path) -> MemoryCgroup:
        return V2Cgroup(path)

    def headroom(self) -> int | None:
        least = None
        for cg in _up_the_mount(self.parent, "cgroup.controllers"):
            if _is_the_root(cg):
                break  # the root has no memory.max: nothing limits it but the host
            if MEMORY not in controllers(cg):
                # Its parent gives it no memory controller, so no memory.max: its charges
                # go to the ancestors, whose limits still count.
                continue
            limit = _read_figure(cg, "memory.max", no_limit="max")
            if limit is None:
                continue
            least = _least(least, limit, _read_bytes(cg, "memory.current"))
        return least

    def _setup(self, cg: Path, *, ram: int, swap: int) -> MemoryCgroup:
        _write(cg / "memory.max", str(ram))
        # Absent where the kernel does not account swap per cgroup (swapaccount=0).
        if (cg / "memory.swap.max").exists():
            _write(cg / "memory.swap.max", str(swap))
        # With zswap on, reclaimed pages would stay compressed in RAM instead of reaching
        # the area under test.
        if (cg / "memory.zswap.max").exists():
            _write(cg / "memory.zswap.max", "0")
        # No memory.high: it throttles the hog before the limit, slowing the burn-in without
        # making the kernel swap any more than reclaim at memory.max does.
        return V2Cgroup(cg)


def find_hierarchy(mounts: list[Mount] | None = None) -> Hierarchy:
    """v1 where a v1 hierarchy holds the memory controller, else the cgroup2 hierarchy
    (whose ``check`` says why, should it offer no memory controller)."""
    mounts = cgroup_mounts() if mounts is None else mounts
    v1 = v1_memory_mount(mounts)
    if v1 is not None:
        return V1Hierarchy(v1)
    v2 = v2_mount(mounts)
    if v2 is not None:
        return V2Hierarchy(v2)
    raise BackendError(
        "no memory cgroup: /proc/self/mountinfo shows neither a cgroup v1 memory hierarchy "
        "nor a cgroup2 mount; a burn-in needs one to limit the hog's RAM"
    )
