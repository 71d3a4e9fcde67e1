"""The kernel's side of swap: the swapon/swapoff system calls and the /proc and /sys readers.

Everything here is the host's truth: what is active comes from /proc/swaps, never from a
database. Parsers take text and are pure, so they are tested against saved samples as well
as the live files; the live readers are one line over them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno as errno_mod
import logging
import os
import re
import select
import stat
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .errors import KernelError, UnsafeError, ValidationError
from .errors import printable as printable  # names are read here, and shown through it
from .policy import Policy

PROC_SWAPS: Final = "/proc/swaps"

# include/linux/swap.h
SWAP_FLAG_PREFER: Final = 0x8000
SWAP_FLAG_PRIO_MASK: Final = 0x7FFF
SWAP_FLAG_DISCARD: Final = 0x10000
SWAP_FLAG_DISCARD_ONCE: Final = 0x20000
SWAP_FLAG_DISCARD_PAGES: Final = 0x40000
MAX_PRIORITY: Final = SWAP_FLAG_PRIO_MASK

#: discard policy -> swapon(2) flags. "both" is the bare flag: the kernel then discards the
#: whole area at swapon and freed pages later, as util-linux's plain ``--discard`` does.
DISCARD_FLAGS: Final[dict[str, int]] = {
    "both": SWAP_FLAG_DISCARD,
    "once": SWAP_FLAG_DISCARD | SWAP_FLAG_DISCARD_ONCE,
    "pages": SWAP_FLAG_DISCARD | SWAP_FLAG_DISCARD_PAGES,
}

_DELETED: Final = " (deleted)"
_RETRYABLE: Final = frozenset({errno_mod.EBUSY, errno_mod.ENOMEM, errno_mod.EAGAIN})


# ---------------------------------------------------------------- names others chose


def read_names(path: str | os.PathLike[str]) -> str:
    """A kernel file whose lines carry names that others chose (the paths in /proc/swaps
    and mountinfo, a loop device's backing file), decoded as the os module decodes names:
    UTF-8, and any other byte as a lone surrogate that os functions turn back into that
    very byte. Read as strict UTF-8, one such name anywhere on the host (a swap file, a
    user's FUSE mount) made the whole read fail; replaced, it would name another file."""
    with open(path, "rb") as f:
        return os.fsdecode(f.read())


# ---------------------------------------------------------------- /proc/swaps


@dataclass(frozen=True)
class SwapArea:
    """One line of /proc/swaps. Sizes are in bytes (the kernel prints KiB)."""

    path: str
    type: str
    size_bytes: int
    used_bytes: int
    priority: int
    #: The swap file was unlinked while active; ``path`` is where it was.
    deleted: bool = False


def unescape(field: str) -> str:
    """A name as /proc/swaps, mountinfo or fstab(5) shows it, with the kernel's escapes of
    space, tab, newline and backslash (three octal digits) undone."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_swaps(text: str) -> list[SwapArea]:
    """Parse /proc/swaps text. The header line is skipped; a malformed line raises
    KernelError, because a reader that silently drops an area would let us write to it."""
    areas: list[SwapArea] = []
    # Split only on what the kernel writes: a path may hold other Unicode line breaks or
    # spaces (U+0085, U+2028...), which str.splitlines() and str.split() would cut at.
    for line in text.split("\n")[1:]:
        if not line.strip(" \t"):
            continue
        fields = re.split(r"[ \t]+", line.strip(" \t"))
        if len(fields) != 5:
            raise KernelError(f"unexpected line in /proc/swaps: {line!r}")
        raw, kind, size, used, prio = fields
        path = unescape(raw)
        deleted = path.endswith(_DELETED)
        if deleted:
            path = path[: -len(_DELETED)]
        try:
            areas.append(
                SwapArea(path, kind, int(size) * 1024, int(used) * 1024, int(prio), deleted)
            )
        except ValueError:
            raise KernelError(f"unexpected numbers in /proc/swaps line: {line!r}") from None
    return areas


def swap_areas() -> list[SwapArea]:
    """The swap areas active now."""
    return parse_swaps(read_names(PROC_SWAPS))


def path_identity(path: str) -> tuple[str, int, int] | None:
    """What makes two spellings of a path the same area: the device number for a block
    device, (device, inode) for anything else; None when the path cannot be stat'ed."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if stat.S_ISBLK(st.st_mode):
        return ("blk", st.st_rdev, 0)
    return ("file", st.st_dev, st.st_ino)


def _normal(path: str) -> str:
    return os.path.normpath(os.path.abspath(path)) if path else path


def find_area(path: str) -> SwapArea | None:
    """The active area that ``path`` names, by identity (same device or inode, so
    /dev/disk/by-uuid links and other spellings match) or by the string itself."""
    if not isinstance(path, str):
        return None  # a row's number or list: os.stat would take a number for a descriptor
    want_id = path_identity(path)
    want = _normal(path)
    for area in swap_areas():
        spellings = {area.path, area.path + _DELETED} if area.deleted else {area.path}
        if want in {_normal(s) for s in spellings}:
            return area
        # A deleted file's old path may now be another file: never match it by identity.
        if want_id is not None and not area.deleted and path_identity(area.path) == want_id:
            return area
    return None


def is_active(path: str) -> bool:
    """True when ``path`` (any spelling of it) is an active swap area."""
    return find_area(path) is not None


# ---------------------------------------------------------------- swapon / swapoff

_libc = ctypes.CDLL(None, use_errno=True)
_libc.swapon.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.swapon.restype = ctypes.c_int
_libc.swapoff.argtypes = [ctypes.c_char_p]
_libc.swapoff.restype = ctypes.c_int


def _check_path(path: str) -> bytes:
    if not isinstance(path, str) or not path:
        raise ValidationError("a swap path is required", field="path")
    if "\x00" in path:
        raise ValidationError("a swap path must not contain a NUL byte", field="path")
    if not os.path.isabs(path):
        raise ValidationError(f"{path!r} is not an absolute path", field="path")
    return os.fsencode(path)


def swap_flags(priority: int | None, discard: str | None) -> int:
    """The swapon(2) flags for a priority (0..32767 or None for the kernel's default,
    which is below every explicit one) and a discard policy (None, both, once, pages)."""
    flags = 0
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise ValidationError("swap priority must be a whole number", field="priority")
        if not 0 <= priority <= MAX_PRIORITY:
            raise ValidationError(
                f"swap priority must be between 0 and {MAX_PRIORITY}, not {priority}",
                field="priority",
            )
        flags |= SWAP_FLAG_PREFER | priority
    if discard is not None:
        if discard not in DISCARD_FLAGS:
            raise ValidationError(
                f"discard must be one of {', '.join(DISCARD_FLAGS)} (or empty), not {discard!r}",
                field="discard",
            )
        flags |= DISCARD_FLAGS[discard]
    return flags


def swapon(
    path: str, *, priority: int | None = None, discard: str | None = None, fd: int | None = None
) -> None:
    """Activate ``path`` as swap through swapon(2). With ``fd`` (a descriptor open on the
    store, proven to be the right one) the kernel is handed ``/proc/self/fd/N``, which
    opens exactly that file or device: a name swapped meanwhile cannot redirect it;
    ``path`` then only names the area in messages. Bad input raises ValidationError before
    the call; a refusal by the kernel raises KernelError with its errno and the likely
    reason, retryable only for EBUSY, ENOMEM and EAGAIN."""
    raw = _check_path(path)
    if fd is not None:
        raw = f"/proc/self/fd/{fd}".encode()
    flags = swap_flags(priority, discard)
    if _libc.swapon(raw, flags) == 0:
        return
    err = ctypes.get_errno()
    raise KernelError(
        f"swapon {path} failed: {_swapon_reason(path, err)}",
        errno=err,
        retryable=err in _RETRYABLE,
    )


def _swapon_reason(path: str, err: int) -> str:
    if err == errno_mod.EBUSY:
        if is_active(path):
            return "it is already active as swap (see /proc/swaps)"
        return (
            "it is in use: mounted, held by another device (RAID, LVM, dm), or "
            "already an active swap file under another name"
        )
    if err == errno_mod.EINVAL:
        return "the kernel rejects it as swap: " + _einval_reason(path)
    if err == errno_mod.EPERM:
        if os.geteuid() != 0:
            return "needs root (CAP_SYS_ADMIN); run the swapadmin worker as root"
        return (
            f"every swap slot is taken ({len(swap_areas())} areas active; the kernel's "
            "MAX_SWAPFILES limit): deactivate an area first"
        )
    if err == errno_mod.ENOMEM:
        return "the kernel could not allocate memory for the swap map; free memory and retry"
    if err == errno_mod.ENOENT:
        return "no such file or device"
    if err in (errno_mod.EACCES, errno_mod.EROFS):
        return f"{os.strerror(err)}: the file must be writable by root on a read-write mount"
    return os.strerror(err)


def _einval_reason(path: str) -> str:
    """Look (read-only) for the usual reasons swapon(2) says EINVAL, most likely first."""
    try:
        st = os.stat(path)
        with open(path, "rb") as f:
            page0 = f.read(page_size())
    except OSError as e:
        return f"it cannot be read ({e.strerror})"
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        return "it is neither a regular file nor a block device"
    magic = page0[page_size() - 10 :]
    if magic == b"SWAP-SPACE":
        return "it has an old version 0 swap header; run mkswap again"
    if magic != b"SWAPSPACE2":
        return (
            "no swap signature (SWAPSPACE2) in its first page, or one written for another "
            "page size; run mkswap on it first"
        )
    if stat.S_ISREG(st.st_mode):
        fstype = filesystem_type(path)
        if fstype in ("tmpfs", "overlay", "ramfs", "squashfs", "fuse", "9p"):
            return f"the {fstype} filesystem it lives on does not support swap files"
        if st.st_blocks * 512 < st.st_size:
            return "the file has holes (it is sparse); allocate it fully with fallocate"
        return (
            f"the {fstype or 'unknown'} filesystem refused it (holes, shared or "
            "copy-on-write extents, or no swap support)"
        )
    return "the swap header is inconsistent (too small, or last_page beyond the device)"


def filesystem_type(path: str) -> str | None:
    """The type of the mounted filesystem holding ``path``, matched by device number."""
    try:
        dev = os.stat(path).st_dev
    except OSError:
        return None
    want = (os.major(dev), os.minor(dev))
    return next((m.fstype for m in mountinfo() if m.devnum == want), None)


@dataclass(frozen=True)
class MountInfo:
    """One line of /proc/<pid>/mountinfo (proc(5))."""

    devnum: tuple[int, int]  # st_dev of the files under ``mount_point``
    #: The directory of the filesystem shown at ``mount_point``: ``/`` for a whole
    #: filesystem, a path for a bind mount of part of it.
    root: str
    mount_point: str
    fstype: str
    source: str
    super_options: tuple[str, ...]


def parse_mountinfo(text: str) -> list[MountInfo]:
    """Every mount in a mountinfo text, in mount order (the last at a path is the one a walk
    to it reaches). KernelError on a line not shaped as the kernel writes them: a reader
    that dropped it would call a mounted device unmounted."""
    found = []
    # Split only where the kernel separates lines and fields: str.split() and splitlines()
    # would also cut a mount point at U+0085 or U+2028 and shift the fields after it. The
    # optional fields end at a lone "-", then come the type, the source and the options.
    for line in text.split("\n"):
        if not line:
            continue
        fields = line.split(" ")
        sep = fields.index("-", 6) if "-" in fields[6:] else 0
        major, _, minor = fields[2].partition(":") if len(fields) > 2 else ("", "", "")
        if not sep or len(fields) < sep + 4 or not (major.isdigit() and minor.isdigit()):
            raise KernelError(f"unexpected line in mountinfo: {line!r}")
        found.append(
            MountInfo(
                devnum=(int(major), int(minor)),
                root=unescape(fields[3]),
                mount_point=unescape(fields[4]),
                fstype=fields[sep + 1],
                source=unescape(fields[sep + 2]),
                super_options=tuple(fields[sep + 3].split(",")),
            )
        )
    return found


def mountinfo(pid: str = "self") -> list[MountInfo]:
    """Every mount process ``pid`` sees (this one's by default). Decoded as names are:
    anyone's FUSE mount may be named with any bytes."""
    return parse_mountinfo(read_names(f"/proc/{pid}/mountinfo"))


def check_swapoff_fits(area: SwapArea, policy: Policy) -> None:
    """Raise UnsafeError unless the area's used bytes fit in MemAvailable less the
    policy's margin: swapoff must read every one of those pages back into RAM."""
    mem = meminfo()
    room = mem.mem_available - policy.swapoff_margin_bytes
    if area.used_bytes > room:
        raise UnsafeError(
            f"swapoff {area.path} would move {_mib(area.used_bytes)} back into RAM, but only "
            f"{_mib(mem.mem_available)} is available and {_mib(policy.swapoff_margin_bytes)} "
            "must stay free (SWAPADMIN_SWAPOFF_MARGIN_BYTES). Free memory, add another swap "
            "area first, or force it if you accept the risk of the OOM killer.",
            retryable=True,
        )


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def swapoff(path: str, *, policy: Policy, force: bool = False) -> None:
    """Deactivate the active area ``path``. Refuses (UnsafeError) when its pages would not
    fit in RAM with the policy's margin, unless ``force``. An area that is not active
    raises KernelError(errno=EINVAL). While the kernel pulls pages back in, this process's
    oom_score_adj is -1000, so the OOM killer does not pick the process doing the swapoff."""
    raw = _check_path(path)
    area = find_area(path)
    if area is None:
        raise KernelError(
            f"swapoff {path}: it is not an active swap area (see /proc/swaps)",
            errno=errno_mod.EINVAL,
        )
    if not force:
        check_swapoff_fits(area, policy)
    with _oom_protected():
        rc = _libc.swapoff(raw)
        err = ctypes.get_errno()
    if rc == 0:
        return
    raise KernelError(
        f"swapoff {path} failed: {_swapoff_reason(err)}", errno=err, retryable=err in _RETRYABLE
    )


def _swapoff_reason(err: int) -> str:
    if err == errno_mod.EINVAL:
        return "it is not an active swap area (someone else may have deactivated it)"
    if err == errno_mod.ENOMEM:
        return "not enough memory to bring its pages back in; the area stays active"
    if err == errno_mod.EPERM:
        return "needs root (CAP_SYS_ADMIN)"
    if err == errno_mod.EINTR:
        return "interrupted by a signal; the area stays active"
    return os.strerror(err)


_OOM_ADJ: Final = "/proc/self/oom_score_adj"
_oom_lock = threading.Lock()
_oom_users = 0
_oom_saved: str | None = None
log = logging.getLogger(__name__)


@contextlib.contextmanager
def _oom_protected() -> Iterator[None]:
    """Run the body with oom_score_adj at -1000 where the process may set it (it needs
    CAP_SYS_RESOURCE); without it, the swapoff still runs, as util-linux's does."""
    # oom_score_adj is per process: threads doing swapoffs at once share one saved value,
    # set by the first to enter and restored by the last to leave.
    global _oom_users, _oom_saved
    with _oom_lock:
        if _oom_users == 0:
            _oom_saved = _shield_from_oom()
        _oom_users += 1
    try:
        yield
    finally:
        with _oom_lock:
            _oom_users -= 1
            if _oom_users == 0 and _oom_saved is not None:
                Path(_OOM_ADJ).write_text(_oom_saved)
                _oom_saved = None


def _shield_from_oom() -> str | None:
    """Set oom_score_adj to -1000; the old value to restore, or None if it was not changed."""
    saved = Path(_OOM_ADJ).read_text().strip()
    try:
        Path(_OOM_ADJ).write_text("-1000")
    except PermissionError:
        log.warning(
            "cannot set oom_score_adj to -1000 (no CAP_SYS_RESOURCE): the OOM killer may "
            "pick this process during swapoff"
        )
        return None
    return saved


# ---------------------------------------------------------------- watching /proc/swaps


class SwapsWatcher:
    """An open /proc/swaps that reports changes: the kernel signals POLLPRI|POLLERR on it
    after any swapon or swapoff since it was opened or last reported. Keep one open to
    miss nothing between waits."""

    def __init__(self) -> None:
        self._f = open(PROC_SWAPS, "rb")  # noqa: SIM115 (closed by close())
        self._f.read()
        self._poll = select.poll()
        self._poll.register(self._f.fileno(), select.POLLPRI | select.POLLERR)

    def wait(self, timeout: float) -> bool:
        """True if /proc/swaps changed since the last report, waiting up to ``timeout``."""
        events = self._poll.poll(max(0, int(timeout * 1000)))
        if not events:
            return False
        # Reading again re-arms the event for the next wait.
        self._f.seek(0)
        self._f.read()
        return True

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> SwapsWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_swaps_change(timeout: float) -> bool:
    """True if a swap area is activated or deactivated within ``timeout`` seconds from
    now. Changes before the call are not seen; a sampler should keep a SwapsWatcher."""
    with SwapsWatcher() as w:
        return w.wait(timeout)


# ---------------------------------------------------------------- /proc/meminfo


@dataclass(frozen=True)
class MemInfo:
    """The /proc/meminfo figures swapadmin uses, in bytes."""

    mem_total: int
    mem_available: int
    swap_total: int
    swap_free: int
    swap_cached: int


_MEMINFO_KEYS: Final = {
    "MemTotal": "mem_total",
    "MemAvailable": "mem_available",
    "SwapTotal": "swap_total",
    "SwapFree": "swap_free",
    "SwapCached": "swap_cached",
}


def parse_meminfo(text: str) -> MemInfo:
    """Parse /proc/meminfo text; KernelError names any field that is missing."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in _MEMINFO_KEYS:
            parts = rest.split()
            scale = 1024 if parts[1:] == ["kB"] else 1
            values[_MEMINFO_KEYS[key]] = int(parts[0]) * scale
    missing = [k for k, v in _MEMINFO_KEYS.items() if v not in values]
    if missing:
        raise KernelError(f"/proc/meminfo has no {', '.join(missing)} (kernel older than 3.14?)")
    return MemInfo(**values)


def meminfo() -> MemInfo:
    with open("/proc/meminfo") as f:
        return parse_meminfo(f.read())


def mem_total() -> int:
    """Physical RAM in bytes, as the kernel counts it."""
    return meminfo().mem_total


# ---------------------------------------------------------------- /proc/vmstat


def parse_vmstat(text: str) -> dict[str, int]:
    """Every counter of /proc/vmstat; KernelError when pswpin or pswpout is missing."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            with contextlib.suppress(ValueError):
                out[parts[0]] = int(parts[1])
    for key in ("pswpin", "pswpout"):
        if key not in out:
            raise KernelError(f"/proc/vmstat has no {key} counter")
    return out


def vmstat() -> dict[str, int]:
    with open("/proc/vmstat") as f:
        return parse_vmstat(f.read())


# ---------------------------------------------------------------- PSI


@dataclass(frozen=True)
class Psi:
    """Memory pressure: percentages of time stalled over 10, 60 and 300 s, and the total
    stall time in microseconds; ``some`` is at least one task, ``full`` is all of them."""

    some_avg10: float
    some_avg60: float
    some_avg300: float
    some_total: int
    full_avg10: float
    full_avg60: float
    full_avg300: float
    full_total: int


def parse_psi(text: str) -> Psi:
    """Parse /proc/pressure/memory text (both the ``some`` and the ``full`` line)."""
    values: dict[str, float | int] = {}
    for line in text.splitlines():
        kind, *pairs = line.split()
        for pair in pairs:
            key, _, value = pair.partition("=")
            name = f"{kind}_{key}"
            values[name] = int(value) if key == "total" else float(value)
    try:
        return Psi(
            some_avg10=float(values["some_avg10"]),
            some_avg60=float(values["some_avg60"]),
            some_avg300=float(values["some_avg300"]),
            some_total=int(values["some_total"]),
            full_avg10=float(values["full_avg10"]),
            full_avg60=float(values["full_avg60"]),
            full_avg300=float(values["full_avg300"]),
            full_total=int(values["full_total"]),
        )
    except KeyError as e:
        raise KernelError(f"memory pressure text has no {e.args[0]}: {text!r}") from None


def psi_memory() -> Psi | None:
    """Memory pressure now, or None when the kernel has no PSI (CONFIG_PSI off or psi=0)."""
    try:
        with open("/proc/pressure/memory") as f:
            return parse_psi(f.read())
    except (FileNotFoundError, OSError):
        return None


# ---------------------------------------------------------------- zram


@dataclass(frozen=True)
class ZramStat:
    """A zram device's mm_stat: sizes in bytes; same_pages, pages_compacted and
    huge_pages in pages. mem_limit 0 means no limit."""

    orig_data_size: int
    compr_data_size: int
    mem_used_total: int
    mem_limit: int
    mem_used_max: int
    same_pages: int
    pages_compacted: int
    huge_pages: int

    @property
    def compression_ratio(self) -> float:
        """Original over compressed size; 0.0 while nothing is stored."""
        if self.compr_data_size == 0:
            return 0.0
        return self.orig_data_size / self.compr_data_size


def parse_mm_stat(text: str) -> ZramStat:
    """Parse a zram mm_stat line (7 columns on old kernels, 8 or 9 on newer ones)."""
    try:
        cols = [int(c) for c in text.split()]
    except ValueError:
        raise KernelError(f"unexpected zram mm_stat: {text!r}") from None
    if len(cols) < 7:
        raise KernelError(f"zram mm_stat has {len(cols)} columns, expected at least 7")
    huge = cols[7] if len(cols) > 7 else 0
    c = cols
    return ZramStat(c[0], c[1], c[2], c[3], c[4], c[5], c[6], huge_pages=huge)


def zram_name(dev: str) -> str:
    """``zramN`` from ``/dev/zramN`` or ``zramN``; ValidationError for anything else."""
    name = dev.removeprefix("/dev/")
    if not re.fullmatch(r"zram[0-9]+", name):
        raise ValidationError(f"{dev!r} is not a zram device name (zramN)", field="device")
    return name


def zram_mm_stat(dev: str) -> ZramStat:
    """The live mm_stat of ``dev``; KernelError when the device does not exist."""
    name = zram_name(dev)
    try:
        text = Path(f"/sys/block/{name}/mm_stat").read_text()
    except FileNotFoundError:
        raise KernelError(f"no zram device {name} (not in /sys/block)") from None
    return parse_mm_stat(text)


# ---------------------------------------------------------------- per-process swap


@dataclass(frozen=True)
class ProcSwap:
    pid: int
    name: str
    swap_bytes: int


def parse_status(pid: int, text: str) -> ProcSwap | None:
    """A process's swap use from its /proc/PID/status; None for kernel threads (no VmSwap)."""
    name = ""
    swap: int | None = None
    # Lines end at "\n" only: a process names itself with any byte but "\n" and "\\"
    # (\x0b, \x1c, U+2028 too), so str.splitlines() would let a name make a line of its
    # own ("VmSwap: x"), and one whose figure is no number would end every sample.
    for line in text.split("\n"):
        key, _, value = line.partition(":")
        if key == "Name" and not name:
            name = value.strip()
        elif key == "VmSwap":
            figure = value.split()
            if not figure or not figure[0].isdigit():
                return None  # not the kernel's line: the process is not counted
            swap = int(figure[0]) * 1024
    return None if swap is None else ProcSwap(pid, name, swap)


def process_swap(pid: int) -> ProcSwap | None:
    """Process ``pid``'s swap use; None for a kernel thread or a process gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            # A process names itself (prctl, the name of any file it runs) with any bytes
            # but newline and backslash: shown, never opened, so decoded as printable.
            text = f.read().decode("utf-8", "backslashreplace")
    except OSError:
        return None
    return parse_status(pid, text)


def top_swap_processes(n: int = 10) -> list[ProcSwap]:
    """The ``n`` processes holding the most swap, most first; processes with none are left
    out. Processes that exit while we read are skipped."""
    found: list[ProcSwap] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        proc = process_swap(int(entry.name))
        if proc is not None and proc.swap_bytes > 0:
            found.append(proc)
    found.sort(key=lambda p: (-p.swap_bytes, p.pid))
    return found[:n]


# ---------------------------------------------------------------- the host


def kernel_release() -> str:
    return os.uname().release


def page_size() -> int:
    return os.sysconf("SC_PAGE_SIZE")


#: How long a tool killed for hanging is waited for before it is left behind.
REAP_TIMEOUT: Final = 2.0


def finish(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    """``proc``'s stdout and stderr once it exits within ``timeout``. Otherwise it is
    killed and subprocess.TimeoutExpired raised (or whatever else stopped the wait), with
    no unbounded wait: subprocess.run
    waits for the killed child without limit, and a probe stuck in the kernel on a dead
    device (state D) outlives SIGKILL until its I/O ends. The job must not wait with it;
    Python reaps it later, once it does end."""
    try:
        return proc.communicate(timeout=timeout)
    except BaseException:
        # Timed out, or stopped by anything else on the way (a Celery soft time limit
        # raised from its signal handler, KeyboardInterrupt): the tool must not outlive it.
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=REAP_TIMEOUT)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        raise
