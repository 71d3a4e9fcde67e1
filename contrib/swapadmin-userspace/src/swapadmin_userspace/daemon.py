"""uswapd from the plugin's side: start it, know it again, stop it.

A daemon is known by its pid *and* its start time (field 22 of ``/proc/PID/stat``) in one
boot: a pid alone may belong to any process after the daemon ended. Every signal goes
through a pidfd opened first and checked against that start time after it was opened, so
no process that merely reuses the number can ever be signalled.

The mount is known by ``/proc/self/mountinfo`` (device number, mount point, filesystem
type) and by what the daemon serving it says of itself in its ``stats`` file (its pid).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import select
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from backends import kernel
from backends import store as store_mod
from backends.errors import BackendError, BusyError, KernelError

#: Where the daemons' mount points live unless SWAPADMIN_USWAP_DIR says otherwise: on
#: /run (tmpfs), so a reboot, which ends every daemon, also removes their mount points.
DEFAULT_RUN_DIR: Final = "/run/swapadmin/uswap"
#: A watchdog, not a wait: the daemon says it is ready within milliseconds of its start.
READY_SECONDS: Final = 30.0
#: How long a daemon may take to end once its mount is gone, before it is killed.
EXIT_SECONDS: Final = 30.0
#: How long an unmount may meet EBUSY (a loop device still letting go of the area file,
#: udev probing the device it just detached) before the release is left for a retry.
UNMOUNT_SECONDS: Final = 30.0
#: The filesystem type uswapd mounts with (``mount(2)``'s "fuse." and its subtype).
FSTYPE: Final = "fuse.swapadmin-uswap"
MNT_DETACH: Final = 2
UMOUNT_NOFOLLOW: Final = 8
#: The FUSE sysctls that bound every connection's request timeout (Linux 6.14).
SYSCTL_FUSE: Final = "/proc/sys/fs/fuse"
#: Exit statuses of uswapd, as its usage says.
EXIT_STATUS: Final[dict[int, str]] = {
    2: "bad input",
    3: "setup failure",
    4: "PR_SET_IO_FLUSHER refused",
}
#: A file as a process's descriptor reaches it: its device and inode.
FileKey = tuple[int, int]
_READY = re.compile(rb"ready io_flusher=([01]) pid=([0-9]+) request_timeout=([0-9]+)\n")
_libc = ctypes.CDLL(None, use_errno=True)

#: Daemons this process started and has not reaped yet: a long-lived worker reaps its own
#: children, so none lingers as a zombie once its mount is gone.
_children: dict[int, subprocess.Popen[bytes]] = {}
_children_lock = threading.Lock()


def run_dir() -> str:
    """The directory that holds one mount point per store (``SWAPADMIN_USWAP_DIR``)."""
    path = os.environ.get("SWAPADMIN_USWAP_DIR", "") or DEFAULT_RUN_DIR
    if not path.startswith("/") or os.path.normpath(path) != path or path == "/":
        raise BackendError(
            f"SWAPADMIN_USWAP_DIR={path!r} is not a normalised absolute path of a directory"
        )
    return path


def binary() -> str:
    """The uswapd installed with this package (compiled by its setup.py)."""
    path = Path(str(resources.files("swapadmin_userspace") / "uswapd"))
    if not os.access(path, os.X_OK):
        raise BackendError(
            f"{path} is missing or not executable: the swapadmin-userspace package was "
            "installed without its daemon; install it again (make venv)"
        )
    return str(path)


@dataclass(frozen=True)
class Daemon:
    """One uswapd process, as recorded in a backend's state."""

    pid: int
    start_time: int
    boot_id: str

    def to_state(self) -> dict[str, Any]:
        return {"pid": self.pid, "start_time": self.start_time, "boot_id": self.boot_id}

    @classmethod
    def from_state(cls, value: object) -> Daemon | None:
        if not isinstance(value, dict):
            return None
        pid, start, boot = value.get("pid"), value.get("start_time"), value.get("boot_id")
        if type(pid) is not int or type(start) is not int or not isinstance(boot, str):
            return None
        return cls(pid, start, boot)

    @classmethod
    def of(cls, pid: int) -> Daemon | None:
        """The process ``pid`` is now, or None when there is none (or only its zombie)."""
        start = start_time(pid)
        return None if start is None else cls(pid, start, store_mod.boot_id())

    def alive(self) -> bool:
        """This very process still runs (not a later one with its number)."""
        return Daemon.of(self.pid) == self

    def held_files(self) -> Iterator[tuple[str, os.stat_result]]:
        """Each descriptor the process holds, as its /proc link and what that link leads
        to (stat follows it, to an unlinked file too); those that vanish meanwhile are
        passed over. Whose they were is for the caller to confirm (``alive``) after."""
        fd_dir = f"/proc/{self.pid}/fd"
        try:
            names = os.listdir(fd_dir)
        except OSError as e:
            _unless_gone(e, f"cannot list what uswapd {self.describe()} holds")
            return
        for name in names:
            link = f"{fd_dir}/{name}"
            try:
                yield link, os.stat(link)
            except OSError as e:
                if e.errno in (errno.EACCES, errno.EPERM):
                    raise KernelError(
                        f"cannot tell what uswapd {self.describe()} holds in {link}: {e.strerror}",
                        errno=e.errno,
                    ) from e
                # Gone, or a file that cannot be reached (a dead FUSE server, a stale NFS
                # handle): not a store the caller could stat to ask about, so not it.
                continue

    def holds(self, key: FileKey) -> bool:
        """The process holds the file ``key`` names (device, inode) open: the store it
        serves, even once unlinked (an open file keeps its inode number)."""
        if any(file_key(st) == key for _, st in self.held_files()):
            return self.alive()  # the descriptors read were this process's
        return False

    def is_uswapd(self) -> bool:
        """The process runs a uswapd binary (one replaced by a reinstall included)."""
        try:
            exe = os.readlink(f"/proc/{self.pid}/exe")
        except OSError as e:  # ENOENT too for a kernel thread, which runs no binary
            _unless_gone(e, f"cannot tell which program process {self.pid} runs")
            return False
        return os.path.basename(exe).removesuffix(" (deleted)") == "uswapd" and self.alive()

    def describe(self) -> str:
        return f"pid {self.pid} (started at tick {self.start_time})"


def _unless_gone(e: OSError, what: str) -> None:
    """Pass over an error that means the process or descriptor has gone (ENOENT, ESRCH);
    raise any other. A /proc entry that cannot be read (EACCES under an LSM or another
    pid namespace's rules) is not one of a process that serves nothing: taken so, a store
    a live uswapd serves would look unserved, and be served twice or removed under it."""
    if e.errno in (errno.ENOENT, errno.ESRCH):
        return
    raise KernelError(f"{what}: {e.strerror}", errno=e.errno) from e


def file_key(st: os.stat_result) -> FileKey:
    return (st.st_dev, st.st_ino)


def holding(key: FileKey) -> list[Daemon]:
    """Every live uswapd that holds the file ``key`` names open: found by /proc, not by a
    record, so one whose record was lost (a crash before it was saved) or whose mount was
    detached lazily is found too."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        d = Daemon.of(int(pid))
        if d is not None and _may_be_ours(d) and d.holds(key):
            out.append(d)
    return out


def _may_be_ours(d: Daemon) -> bool:
    """``d`` runs uswapd. Its command name is read first: /proc/PID/comm needs no ptrace
    right, so a process not named uswapd is passed over without asking for its binary,
    which the kernel may refuse even root (PID 1 here is not dumpable). One named uswapd
    must show its binary: a refusal then (an LSM denying the worker ptrace reads) is an
    error, never "not a uswapd", or the store it serves would look unserved."""
    try:
        comm = Path(f"/proc/{d.pid}/comm").read_text().strip()
    except OSError as e:
        _unless_gone(e, f"cannot read the command name of process {d.pid}")
        return False
    return comm == "uswapd" and d.is_uswapd()


def run_state(pid: int) -> str | None:
    """Field 3 of /proc/PID/stat (R, S, D, T, t, Z, ...), or None for no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError as e:
        _unless_gone(e, f"cannot read /proc/{pid}/stat")
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    return fields[0].decode() if fields else None


def stopping(pid: int) -> bool:
    """Whether a request to the process would wait for it for ever: one of its threads is
    stopped (T, or t under a tracer), or a SIGSTOP is on its way (pending, not yet taken:
    it is taken when the thread next leaves the kernel, and a request sent then meets a
    stopped daemon). SIGTSTP, SIGTTIN and SIGTTOU never stop uswapd: it runs in a session
    of its own, whose orphaned process group the kernel does not stop for them. Read from
    /proc, which never waits on the process."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tids:
        try:
            raw = Path(f"/proc/{pid}/task/{tid}/status").read_bytes()
        except OSError:
            continue  # a thread that ended meanwhile
        # Asked before the pid is known to be the daemon's: any process's name (any bytes
        # but "\n") must neither fail the read nor make a line of its own.
        status = raw.decode("utf-8", "backslashreplace")
        fields = dict(line.split(":", 1) for line in status.split("\n") if ":" in line)
        if fields.get("State", "").strip()[:1] in ("T", "t"):
            return True
        # /proc's masks: bit N-1 is signal N. SIGSTOP cannot be blocked or caught.
        if (_mask(fields, "SigPnd") | _mask(fields, "ShdPnd")) & (1 << (signal.SIGSTOP - 1)):
            return True
    return False


def _mask(fields: dict[str, str], name: str) -> int:
    try:
        return int(fields.get(name, "0").strip() or "0", 16)
    except ValueError:
        return 0


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks after boot), or None for no live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError as e:
        _unless_gone(e, f"cannot read /proc/{pid}/stat")
        return None
    # The command name (field 2) may hold spaces and parentheses: count from the last ")".
    fields = raw[raw.rfind(b")") + 2 :].split()
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


@contextlib.contextmanager
def pidfd(daemon: Daemon) -> Iterator[int | None]:
    """A pidfd on ``daemon``, or None when it has ended: opened first, then checked to be
    that process (its start time), so the descriptor can never name a later process."""
    try:
        fd = os.pidfd_open(daemon.pid)
    except ProcessLookupError:
        yield None
        return
    try:
        yield fd if daemon.alive() else None
    finally:
        os.close(fd)


def wait_ended(fd: int, seconds: float) -> bool:
    """Whether the process of pidfd ``fd`` ends within ``seconds`` (a pidfd turns readable
    when its process exits, whoever its parent is)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0.0, seconds) * 1000))


def end(daemon: Daemon, *, seconds: float = EXIT_SECONDS) -> None:
    """Wait for ``daemon`` to end after its mount went; SIGKILL it if it does not within
    ``seconds``. A process that is not ``daemon`` (its number reused) is never signalled."""
    with pidfd(daemon) as fd:
        if fd is not None and not wait_ended(fd, seconds):
            # ESRCH: it ended, and its parent collected it, just now.
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            if not wait_ended(fd, seconds):
                raise BusyError(f"uswapd {daemon.describe()} did not end after SIGKILL")
    reap_ended()


def reap_ended() -> None:
    """Collect every daemon this process started that has ended, by ``end`` or otherwise
    (it crashed, someone else ended it): each would otherwise stay a zombie for the
    worker's whole life. Known by its own Popen, never by a pid alone (once one is
    collected its pid may be given to a later daemon); waits for none, and one still
    running is kept."""
    with _children_lock:
        for pid, child in list(_children.items()):
            if child.poll() is not None:  # waitpid(pid, WNOHANG): this child only
                del _children[pid]


# ---- mounts ----


@dataclass(frozen=True)
class Mount:
    devnum: str  # "major:minor" of the mounted filesystem
    mountpoint: str
    fstype: str
    source: str

    @property
    def ours(self) -> bool:
        """Mounted by a uswapd: its filesystem type, which names the FUSE server's subtype.
        (Any root process could name the same subtype; what serves the mount is proven
        apart, by the daemon behind it holding the backend's store.)"""
        return self.fstype == FSTYPE


def mounts() -> list[Mount]:
    """Every mount of this process's namespace, in mount order (the last one at a path is
    the one the path reaches)."""
    return [
        Mount(f"{m.devnum[0]}:{m.devnum[1]}", m.mount_point, m.fstype, m.source)
        for m in kernel.mountinfo()
    ]


def devnum(dev: int) -> str:
    return f"{os.major(dev)}:{os.minor(dev)}"


def mount_at(path: str) -> Mount | None:
    """The mount a walk to ``path`` reaches, if ``path`` is a mount point."""
    at = [m for m in mounts() if m.mountpoint == path]
    return at[-1] if at else None


def umount(path: str, *, seconds: float = UNMOUNT_SECONDS) -> None:
    """umount2(``path``), waiting out a moment's EBUSY (a loop device that let go of the
    area only at its last close, udev probing it): BusyError if it stays busy."""
    raw = os.fsencode(path)
    deadline = time.monotonic() + seconds
    delay = 0.01
    while _libc.umount2(raw, UMOUNT_NOFOLLOW) != 0:
        err = ctypes.get_errno()
        if err == errno.EINVAL and mount_at(path) is None:
            return  # unmounted meanwhile
        if err != errno.EBUSY:
            raise KernelError(f"cannot unmount {path}: {os.strerror(err)}", errno=err)
        if time.monotonic() >= deadline:
            raise BusyError(
                f"{path} stays busy: something still has its area open (a loop device not "
                "yet detached, a process). Detach it; swapadmin tries again."
            )
        time.sleep(delay)  # the kernel gives no event for "no longer busy"
        delay = min(delay * 2, 0.2)


def detach_mount(path: str) -> None:
    """umount2(MNT_DETACH): the last resort for a mount that a failed start left behind."""
    _libc.umount2(os.fsencode(path), MNT_DETACH | UMOUNT_NOFOLLOW)


# ---- the stats file ----


def parse_stats(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            out[key] = int(value)
    return out


def read_stats(fd: int) -> dict[str, int]:
    """The daemon's counters from its open ``stats`` file."""
    chunks = []
    offset = 0
    while True:
        try:
            chunk = os.pread(fd, 65536, offset)
        except OSError as e:
            raise KernelError(f"cannot read uswapd's stats: {e.strerror}", errno=e.errno) from e
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return parse_stats(b"".join(chunks).decode(errors="replace"))


# ---- starting ----


def effective_timeout(asked: int) -> int:
    """The request timeout the kernel applies to a connection whose INIT reply asked for
    ``asked`` seconds (0: none asked, or none the kernel could take): as its
    ``init_server_timeout`` decides, with ``fs.fuse.default_request_timeout`` standing in
    for none and ``fs.fuse.max_request_timeout`` bounding any (absent before 6.14: 0)."""

    def sysctl(name: str) -> int:
        try:
            return int(Path(SYSCTL_FUSE, name).read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    timeout = asked or sysctl("default_request_timeout")
    most = sysctl("max_request_timeout")
    if most:
        timeout = min(most, timeout) if timeout else most
    return timeout


@dataclass(frozen=True)
class Started:
    daemon: Daemon
    io_flusher: bool
    #: The request timeout the kernel applies to its connection, in seconds (0: none).
    request_timeout: int


class StartFailed(BackendError):
    """uswapd did not say it was ready; the message says why, with what it wrote."""


def start(
    *,
    mountpoint: str,
    store_fd: int,
    size: int,
    log_fd: int,
    request_timeout: int,
    seconds: float = READY_SECONDS,
) -> Started:
    """Start uswapd over the open store ``store_fd`` (handed down, never a path it opens)
    at ``mountpoint``, in a session of its own, asking the kernel to abort its connection
    once a request waits ``request_timeout`` seconds (0: never), and wait for its ready
    line. On any failure the daemon is killed and whatever it mounted taken down before
    StartFailed."""
    reap_ended()
    r, w = os.pipe()
    child: subprocess.Popen[bytes] | None = None
    try:
        argv = [
            binary(), "--mountpoint", mountpoint, "--store-fd", str(store_fd),
            "--size", str(size), "--ready-fd", str(w),
            "--request-timeout", str(request_timeout),
        ]  # fmt: skip
        try:
            child = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=log_fd,
                pass_fds=(store_fd, w),
                close_fds=True,
                # Its own session: a signal to the worker's process group (a Ctrl-C, the
                # terminal's hangup) does not end the daemon that may hold an active area.
                # A service manager that kills the worker's whole control group does
                # (systemd's default, and docs/DEPLOY.md's KillMode=mixed): the README's
                # "Not built yet" says so; no area of this kind is swapped on without a
                # unit of its own for the daemon, which is not built.
                start_new_session=True,
                cwd="/",
            )
        except OSError as e:
            raise StartFailed(f"cannot run uswapd: {e.strerror}") from e
        os.close(w)
        w = -1
        line, closed = _ready_line(r, seconds)
        if closed and not line.endswith(b"\n"):
            # It closed its end without a line: it is exiting; its status says why.
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=seconds)
        started = _ready(child, line, seconds)
        # Only now, once its identity is taken: until then no other thread's reap_ended
        # may collect it, which would free its pid for another process to take.
        with _children_lock:
            _children[child.pid] = child
        return started
    except BaseException:
        _abort(child, mountpoint)
        raise
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def _ready(child: subprocess.Popen[bytes], line: bytes, seconds: float) -> Started:
    match = _READY.fullmatch(line)
    if match is None:
        status = child.poll()
        if status is not None:
            why = f"it exited with status {status} ({EXIT_STATUS.get(status, 'unexpected')})"
        elif line:
            why = f"its ready line was {line!r}"
        else:
            why = f"it gave no ready line within {seconds:.0f} s"
        raise StartFailed(f"uswapd did not start: {why}")
    pid = int(match.group(2))
    if pid != child.pid:
        raise StartFailed(f"uswapd said it was pid {pid}, but it was started as {child.pid}")
    daemon = Daemon.of(pid)
    if daemon is None:
        raise StartFailed(f"uswapd (pid {pid}) ended just after it said it was ready")
    return Started(daemon, match.group(1) == b"1", effective_timeout(int(match.group(3))))


def _ready_line(fd: int, seconds: float) -> tuple[bytes, bool]:
    """What the daemon wrote on its ready pipe up to its first newline, its exit (EOF) or
    the deadline; and whether it closed the pipe."""
    deadline = time.monotonic() + seconds
    got = b""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while b"\n" not in got and len(got) < 256:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            return got, False
        chunk = os.read(fd, 256)
        if not chunk:
            return got, True
        got += chunk
    return got, False


def _abort(child: subprocess.Popen[bytes] | None, mountpoint: str) -> None:
    """After a failed start: the daemon this process started killed (never handed to
    reap_ended, so only this Popen collects it and its pid is still its own) and whatever
    it mounted taken down."""
    if child is not None:
        with _children_lock:
            _children.pop(child.pid, None)
        if child.poll() is None:
            child.kill()
        child.wait()
    found = mount_at(mountpoint)
    if found is not None and found.ours:
        try:
            umount(mountpoint, seconds=1.0)
        except BackendError:
            detach_mount(mountpoint)
