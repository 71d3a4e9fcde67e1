"""The user-space kind: swap whose every page passes through swapadmin's own daemon.

On a kernel without NBD or ublk, the only way for the kernel's swap traffic to reach a
process is a loop device over a file on a FUSE filesystem (docs/research/issue15-part2-
userspace-kind.md, section 2). So an area of this kind is three things, made in order:

1. the *store*: a file under a swap root made exactly as the file kind makes its files
   (same root, symlink, ownership, free-space and marking checks), holding the swap area
   byte for byte, so the file kind's header and identity checks apply to it unchanged;
2. *uswapd* (``uswapd.c``, compiled when this package is installed): handed the store's
   proven descriptor (never a path to open again), it mounts a FUSE filesystem whose
   ``area`` file is the store 1:1 and whose ``stats`` file counts what passed through;
3. a *loop device* over ``area`` with direct I/O, which swapon and every tool write to.

Every descriptor written through is proven when it is opened, just before its first write
(the contract's ``prove``): the loop device (LOOP_GET_STATUS64 on that very descriptor)
serves the ``area`` file opened from this backend's FUSE mount, that mount is served by the
daemon recorded in ``state`` (its pid and start time, in this boot), that daemon holds this
backend's store open, and the store carries this backend's mark. While the descriptor is
open none of it can change under it (see ``recheck_store``). Swapping on is refused while
the daemon runs without PR_SET_IO_FLUSHER (see ``swap_on``).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import stat
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final

from backends import kernel, safepath
from backends import store as store_mod
from backends.base import Fact, Parameter, SwapBackend
from backends.errors import (
    ActiveAreaError,
    BackendError,
    BusyError,
    KernelError,
    NotOursError,
    UnprovenDeviceError,
    UnsafeError,
    ValidationError,
)
from backends.plugins.file import _lock, read_mark
from backends.plugins.loop import (
    LoopBackend,
    _opened_device,
    ask_loop_device,
    open_loop_node,
)
from backends.policy import Policy
from backends.store import Store

from . import daemon as uswapd
from .daemon import Daemon

PR_SET_IO_FLUSHER: Final = 57
#: uswapd's own words when it is asked to insist on PR_SET_IO_FLUSHER and cannot have it.
IO_FLUSHER_WHY: Final = (
    "PR_SET_IO_FLUSHER refused (needs CAP_SYS_RESOURCE): without it this daemon's own "
    "allocations can recurse into the swap area it serves and deadlock"
)
#: The record's identity of a store file (``store.file_identity``): its device and inode.
_STORE_KEY: Final = re.compile(r"file:([0-9]+):([0-9]+)")
#: A backend's id as it may stand in a mount point's name (swapadmin's are UUIDs).
_OWNER: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
#: The shortest request timeout taken: the kernel looks for expired requests every 15 s
#: (FUSE_TIMEOUT_TIMER_FREQ), so a shorter one would fence no sooner, and only cut off a
#: daemon that is merely slow a moment.
MIN_REQUEST_TIMEOUT: Final = 15
AREA: Final = "area"
STATS: Final = "stats"
_libc = ctypes.CDLL(None, use_errno=True)
#: What a FUSE mount answers once its connection is gone: ENOTCONN to a new request,
#: ECONNABORTED to one that was waiting when the kernel aborted it.
_CUT_OFF: Final = (errno.ENOTCONN, errno.ECONNABORTED)


class IoFlusherRefused(UnsafeError):
    """The area is not swapped on: its daemon runs without PR_SET_IO_FLUSHER."""


def io_flusher_granted() -> bool:
    """Whether this process may set PR_SET_IO_FLUSHER (CAP_SYS_RESOURCE), asked on a
    throwaway thread: the flag is a task's own and ends with that thread."""
    answer: list[bool] = []

    def ask() -> None:
        answer.append(_libc.prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) == 0)

    t = threading.Thread(target=ask, name="io-flusher-probe")
    t.start()
    t.join()
    return bool(answer and answer[0])


def lowest_priority(others: Sequence[kernel.SwapArea]) -> int | None:
    """A swapon priority strictly below every other active area's, so that this area is the
    last to fill: one below the lowest, when that is an explicit priority above 0; None
    (the kernel's own, negative, priority) when no explicit one can be lower."""
    if not others:
        return None
    least = min(a.priority for a in others)
    return least - 1 if least >= 1 else None


@dataclass(frozen=True)
class Served:
    """What serves a FUSE mount of this kind: the daemon, as it names itself in ``stats``
    and as /proc shows it, and its counters."""

    daemon: Daemon
    stats: dict[str, int]


class UserspaceBackend(LoopBackend):
    """A store file under a swap root, served by uswapd over FUSE, swapped to through a
    loop device. ``state``: ``device`` (the loop device), ``mountpoint``, ``daemon`` (pid,
    start time, boot id), ``io_flusher`` (what the daemon reported), and the store record."""

    name: ClassVar[str] = "userspace"
    label: ClassVar[str] = "User-space store (FUSE)"
    description: ClassVar[str] = (
        "Swap whose pages pass through swapadmin's own daemon (uswapd): the kernel swaps to a "
        "loop device over a FUSE file the daemon serves byte for byte from a store file under "
        "a swap root. Swapped on only where the daemon may set PR_SET_IO_FLUSHER "
        "(CAP_SYS_RESOURCE)."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            "path",
            "Store file",
            required=True,
            max_length=4096,
            help="Absolute path of the store file, inside one of the host's swap roots: it "
            "holds the swap area byte for byte, served by swapadmin's daemon.",
        ),
        Parameter(
            "request_timeout",
            "Request timeout (seconds)",
            type="int",
            default=0,
            minimum=0,
            maximum=65535,
            help="0 (the default): the kernel waits for the daemon for ever, as for a hard "
            "NFS mount, and a hung daemon hangs what waits on it. From "
            f"{MIN_REQUEST_TIMEOUT}: a request left unanswered this long makes the kernel "
            "abort the daemon's connection (checked every 15 s; Linux 6.14 or later): jobs "
            "get an error instead of waiting, and if the area is swapped on, every page "
            "swapped to it is lost to its process.",
        ),
    )

    @classmethod
    def validate_params(cls, params: dict[str, Any], policy: Policy) -> dict[str, Any]:
        params = super().validate_params(params, policy)
        timeout = params["request_timeout"]
        if 0 < timeout < MIN_REQUEST_TIMEOUT:
            raise ValidationError(
                f"Request timeout (seconds): {timeout} is below {MIN_REQUEST_TIMEOUT}; the "
                "kernel looks for expired requests every 15 s. 0 waits for ever.",
                field="request_timeout",
            )
        return params

    # The daemon serves the size it was started with; resizing is not built yet.
    resizable: ClassVar[bool] = False
    # Nothing starts the daemon and attaches the loop device again at boot.
    persistable: ClassVar[bool] = False
    device_is_ephemeral: ClassVar[bool] = True

    # ---- what the control plane asks the class ----

    @classmethod
    def adoption_claim(cls, path: str) -> int:
        return 0  # a loop device over someone's FUSE file is the loop kind's to adopt

    @classmethod
    def adopt(
        cls, path: str, policy: Policy, *, active: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        raise BackendError(f"the {cls.label} kind does not adopt existing areas")

    @classmethod
    def facts(
        cls,
        info: Mapping[str, Any],
        params: Mapping[str, Any],
        state: Mapping[str, Any],
        swap_path: str | None,
    ) -> list[Fact]:
        device = str(info.get("device") or state.get("device") or "not attached")
        unreadable = info.get("unreadable")
        why = unreadable.get("attached") if isinstance(unreadable, dict) else None
        running = info.get("daemon_running")
        rec = Daemon.from_state(state.get("daemon"))
        pid = rec.pid if rec else None
        if pid is None:
            daemon_text = "not started"
        else:
            daemon_text = f"uswapd, pid {pid}, {'running' if running is True else 'not running'}"
        flusher = info.get("io_flusher", state.get("io_flusher"))
        problem = "" if flusher is not False else f"swapon is refused: {IO_FLUSHER_WHY}"
        return [
            Fact("Store file", str(params.get("path") or ""), mono=True),
            Fact("Daemon", daemon_text),
            Fact("FUSE mount", str(state.get("mountpoint") or "not mounted"), mono=True),
            Fact(
                "Loop device",
                device,
                mono=True,
                problem=f"whether it serves the mount is not known: {why}" if why else "",
            ),
            Fact(
                "PR_SET_IO_FLUSHER",
                "yes" if flusher is True else "no" if flusher is False else "unknown",
                problem=problem,
            ),
            _timeout_fact(
                params.get("request_timeout") or 0, state.get("request_timeout"), pid is not None
            ),
        ]

    @classmethod
    def creation_prepares(cls, where: str, size: str) -> str:
        return (
            f"Create a store file of {size} at {where}, allocated, owned by root with mode "
            "0600 and marked as made by swapadmin, as a swap file is made; start swapadmin's "
            "daemon uswapd over it, with a FUSE mount in the host's run directory "
            f"({uswapd.DEFAULT_RUN_DIR} unless SWAPADMIN_USWAP_DIR says otherwise), and attach "
            "a loop device to the daemon's area file. It is swapped on only where the daemon "
            "may set PR_SET_IO_FLUSHER (CAP_SYS_RESOURCE)."
        )

    @classmethod
    def destroy_removes(cls, path: str, size: str) -> str:
        return (
            f"The loop device {path} is detached, uswapd's FUSE mount is taken down (the "
            f"daemon ends) and the store file ({size}) is deleted, if swapadmin made it."
        )

    # ---- the state ----

    @property
    def mountpoint(self) -> str | None:
        """Where this backend's store is served: derived from the store's identity in the
        record (its device and inode) and from this backend's own id (the owner its mark
        names), under the run directory; never read from the state, whose copy a row
        written elsewhere could point anywhere (a directory to remove, a stranger's mount to
        take down). A state naming another place is refused. None before the store is
        known. The owner is part of the name because the filesystem gives a deleted store's
        inode number to a later file, perhaps another backend's store: the same device and
        inode never name two backends' mount points."""
        key = _STORE_KEY.fullmatch(str(self.record.get("key") or ""))
        if key is None or not _OWNER.fullmatch(self.owner or ""):
            return None
        derived = self._point(int(key[1]), int(key[2]))
        said = self.state.get("mountpoint")
        legacy = os.path.join(uswapd.run_dir(), f"{key[1]}-{key[2]}")
        if said == legacy and uswapd.mount_at(legacy) is None:
            # Named before the backend's id was part of the name, and nothing mounted
            # there any more (taken down by hand, or by a reboot): nothing is left to name.
            return derived
        if said is not None and said != derived:
            raise NotOursError(
                f"the state names {said!r} as the mount point, but this backend's store is "
                f"served at {derived}: the state was not written for this store by "
                "swapadmin's worker. Nothing was done."
            )
        return derived

    @property
    def daemon(self) -> Daemon | None:
        return Daemon.from_state(self.state.get("daemon"))

    def _forget_daemon(self) -> None:
        for key in ("mountpoint", "daemon", "io_flusher", "request_timeout"):
            self.state.pop(key, None)

    # ---- enable / disable ----

    def swapfile(self, enable: bool) -> None:
        """On True: the store is provisioned (or, outside a provision, verified) as the file
        kind does, served by one uswapd at this backend's mount point, and the area file
        attached to one loop device; what is in place already is reused, what a reboot
        ended is started again. On False: the loop device is detached (never while
        active), the mount taken down, the daemon ended; the store stays until destroy."""
        self._refuse_stopped()  # before anything is changed: a release would stop half-way
        if not enable:
            pin = self._release_proven()
            if pin is None:
                return
            try:
                self._detach_area()
                self._stop_serving()
            finally:
                os.close(pin)
            return
        self.provision_file()
        store = self._backing_store()
        try:
            self._serve(store)
            self._attach_area()
        finally:
            # Page I/O goes through the loop device from now on, proven again when opened.
            if store is self._store:
                self.close()
            else:
                store.close()

    def _release_proven(self) -> int | None:
        """A descriptor pinning this backend's store while the release runs, once what is
        at its mount point is proven its own: its store proven (the walk, the mark naming
        this backend) and the one the record names, whose device and inode name the mount
        point; or, the store gone from its path (deleted or renamed by hand), the file the
        daemon serving that point holds, which the record's key names and this backend's
        mark is on. Pinned, the inode cannot be given to a later file while the loop devices
        and the mount named by it are taken down.

        Nothing proves a store that is neither: the filesystem gives its inode number to a
        later file, and another backend's store may be served at that point now. Then
        anything mounted there is left, with its loop devices (NotOursError); a daemon or a
        loop device still recorded and alive is not forgotten (BusyError); else the state is
        forgotten and None returned."""
        mp = self.mountpoint
        if mp is None:
            # No store recorded (or no id of swapadmin's): nothing names a mount point of
            # this backend's, and nothing is touched.
            self._forget_unless_left("no store is recorded", None)
            return None
        why = "its record names no owner" if not self._owns_record() else ""
        if not why:
            try:
                store = self._backing_store()
            except BackendError as e:
                why = str(e)
            else:
                try:
                    if self._mountpoint_for(os.fstat(store.fd)) == mp:
                        return os.dup(store.fd)
                    why = f"{self.file_path} is not the store this backend recorded"
                finally:
                    if store is not self._store:
                        store.close()
            pin = self._held_by_daemon(mp)
            if pin is not None:
                return pin
        found = uswapd.mount_at(mp)
        if found is not None:
            raise NotOursError(
                f"{self.file_path} cannot be proven this backend's store ({why}), so the "
                f"{found.fstype} mount at {mp}, which its record names, cannot be proven its "
                "own either: the mount and the loop devices over it are left as they are. "
                "Nothing was done."
            )
        self._forget_unless_left(why, mp)
        return None

    def _forget_unless_left(self, why: str, mp: str | None) -> None:
        """Forget the recorded daemon and loop device, nothing being mounted at this
        backend's point; unless the daemon still runs holding a file with this backend's
        mark, or the loop device still names a file of this backend's mount (or, its mount
        detached lazily, an ``area`` file), which may serve a swapped-on area: BusyError,
        naming it, touching nothing."""
        rec = self.daemon
        held = self._ours_held(rec, None) if rec is not None else None
        if rec is not None and held is not None:
            os.close(held)
            raise BusyError(
                f"{self.file_path} cannot be proven this backend's store ({why}), and its "
                f"recorded daemon, uswapd {rec.describe()}, still runs holding a file with "
                "this backend's mark, though nothing is mounted at its mount point: its mount "
                "was detached lazily and may still serve a swapped-on area. It was neither "
                "ended nor forgotten; find what uses it (losetup -a, /proc/swaps), take that "
                f"down, end it (kill {rec.pid}) and try again."
            )
        left = self._recorded_device_left(mp)
        if left is not None:
            raise BusyError(
                f"{self.file_path} cannot be proven this backend's store ({why}), and its "
                f"recorded loop device, {left}, is still attached to a file named like its "
                "area, though nothing is mounted at its mount point. It was neither detached "
                "nor forgotten; check which area it serves (losetup -a, /proc/swaps), take it "
                "down if it is this backend's, and try again."
            )
        self.state.pop("device", None)
        self._forget_daemon()

    def _owns_record(self) -> bool:
        # This kind marks every store it makes: a record naming no owner, or another, was
        # not written for this backend by a provision of it.
        owner = self.record.get("owner")
        return bool(owner) and owner == self.owner

    def _held_by_daemon(self, mp: str) -> int | None:
        """A descriptor on the file the live daemon serving ``mp`` holds open, reopened
        through /proc, when that file is the one the record's key names and carries this
        backend's mark (a store deleted or renamed by hand while served); else None."""
        key = self._recorded_key()
        try:
            serving = self._serving(mp) if key is not None else None
        except NotOursError:
            return None  # nothing of this kind mounted there
        return None if serving is None else self._ours_held(serving, key)

    def _recorded_key(self) -> uswapd.FileKey | None:
        recorded = _STORE_KEY.fullmatch(str(self.record.get("key") or ""))
        return None if recorded is None else (int(recorded[1]), int(recorded[2]))

    def _ours_held(self, d: Daemon, key: uswapd.FileKey | None) -> int | None:
        """A descriptor on a regular file the uswapd ``d`` holds open (the one ``key`` names,
        when given) that carries this backend's mark, reopened through /proc; else None.
        Only a regular file of that key is opened (never the daemon's /dev/fuse or a
        pipe), and ``d`` is asked to be alive after the open: it was that very process's."""
        if not d.is_uswapd() or not _OWNER.fullmatch(self.owner or ""):
            return None
        for link, st in d.held_files():
            if not stat.S_ISREG(st.st_mode) or (key is not None and uswapd.file_key(st) != key):
                continue
            try:
                fd = os.open(link, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
            except OSError:
                continue
            keep = False
            try:
                got = os.fstat(fd)
                mark = read_mark(fd) if stat.S_ISREG(got.st_mode) else None
                keep = (
                    mark is not None
                    and mark.owner == self.owner
                    and (key is None or uswapd.file_key(got) == key)
                    and d.alive()
                )
            except (OSError, BackendError):
                keep = False
            finally:
                if not keep:
                    os.close(fd)
            if keep:
                return fd
        return None

    def _mountpoint_for(self, st: os.stat_result) -> str:
        # One mount point per store file and backend: named by the bytes it serves and by
        # whose they are, not by a row.
        if not _OWNER.fullmatch(self.owner or ""):
            raise BackendError(
                f"this backend's id ({self.owner!r}) cannot name a mount point: the "
                f"{self.label} kind serves only a backend of swapadmin's own"
            )
        return self._point(st.st_dev, st.st_ino)

    def _point(self, dev: int, ino: int) -> str:
        return os.path.join(uswapd.run_dir(), f"{dev}-{ino}-{self.owner}")

    def _serve(self, store: Store) -> None:
        """One uswapd serving ``store`` at this backend's mount point: the recorded one, or
        one found there serving this very store (a crash lost its record), or a new one
        (also in place of one without PR_SET_IO_FLUSHER, once the flag can be had)."""
        st = os.fstat(store.fd)
        mp = self._mountpoint_for(st)
        if self.mountpoint not in (None, mp):
            raise NotOursError(
                f"{self.file_path} is not the store this backend recorded (it would be "
                f"served at {mp}, not {self.mountpoint}). Nothing was done."
            )
        served = self._served_at(mp, st)
        if served is not None:
            if self.daemon != served.daemon or self.mountpoint != mp:
                self.state.update(
                    mountpoint=mp,
                    daemon=served.daemon.to_state(),
                    io_flusher=served.stats.get("io_flusher") == 1,
                    request_timeout=uswapd.effective_timeout(
                        served.stats.get("request_timeout", 0)
                    ),
                )
                self.save_state()
            if not self._restart_for_io_flusher(served):
                return
        # Nothing serves this store there, or its daemon is to start again with the flag:
        # what is left (a mount whose daemon died, with our loop device still over it; a
        # recorded daemon without its mount) goes first.
        self.state["mountpoint"] = mp
        self._detach_area()
        self._stop_serving()
        self._start(store, mp)

    def _restart_for_io_flusher(self, served: Served) -> bool:
        """Whether a daemon that runs without PR_SET_IO_FLUSHER, serving an inactive area,
        is to be started again because this worker may grant the flag now (it was given
        CAP_SYS_RESOURCE since): then the next activation is not refused."""
        return served.stats.get("io_flusher") != 1 and not self.is_active() and io_flusher_granted()

    def _start(self, store: Store, mp: str) -> None:
        st = os.fstat(store.fd)
        with safepath.open_parent(mp, [os.path.dirname(mp)], create=True) as parent:
            _empty_mountpoint(parent)
            log_fd = os.open(
                parent.name + ".log",
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=parent.dirfd,
            )
            try:
                started = self._start_daemon(store.fd, mp, log_fd)
            except uswapd.StartFailed as e:
                said = _tail(parent.dirfd, parent.name + ".log")
                with contextlib.suppress(OSError):
                    os.rmdir(parent.name, dir_fd=parent.dirfd)
                raise BackendError(
                    f"{e.message}{f'; it said: {said}' if said else ''}. Nothing was left "
                    "mounted or running."
                ) from e
            finally:
                os.close(log_fd)
        self.state.update(
            mountpoint=mp,
            daemon=started.daemon.to_state(),
            io_flusher=started.io_flusher,
            request_timeout=started.request_timeout,
        )
        self.save_state()  # a crash from here on must not leave the daemon unknown
        served = self._served_at(mp, st)
        if served is None or served.daemon != started.daemon:
            self._stop_serving()
            raise BackendError(
                f"uswapd {started.daemon.describe()} said it was ready, but {mp} is not "
                "served by it; it was stopped"
            )

    def _start_daemon(self, store_fd: int, mp: str, log_fd: int) -> uswapd.Started:
        # A description of its own for the daemon (no lock of ours), reached through the
        # proven descriptor, not through the store's name. O_DIRECT: a page swapped out
        # must not sit in the store's page cache, dirty, while memory is short (the loop
        # device's requests are page-aligned, and so are the daemon's buffers).
        st = os.fstat(store_fd)
        rw = os.open(f"/proc/self/fd/{store_fd}", os.O_RDWR | os.O_DIRECT | os.O_CLOEXEC)
        try:
            if store_mod.file_identity(os.fstat(rw)) != store_mod.file_identity(st):
                raise NotOursError(f"{self.file_path} changed while its daemon was started")
            return uswapd.start(
                mountpoint=mp,
                store_fd=rw,
                size=st.st_size,
                log_fd=log_fd,
                request_timeout=self.params["request_timeout"],
            )
        finally:
            os.close(rw)

    def _served_at(self, mp: str, store_st: os.stat_result) -> Served | None:
        """The daemon serving this backend's store at ``mp``; None when nothing is mounted
        there or its daemon is gone. NotOursError for a mount there that serves other bytes."""
        found = uswapd.mount_at(mp)
        if found is None:
            return None
        if not found.ours:
            raise NotOursError(
                f"{mp} holds a {found.fstype} mount that is not this backend's: left as it is"
            )
        self._refuse_stopped()
        try:
            mp_fd = self._open_mountpoint(mp)
        except BackendError:
            return None
        try:
            return self._check_served(mp_fd, mp, store_st)
        except _Gone as gone:
            if gone.cut_off:
                self._refuse_cut_off(mp)
            return None
        finally:
            os.close(mp_fd)

    def _check_served(self, mp_fd: int, mp: str, store_st: os.stat_result) -> Served:
        """The FUSE mount reached through ``mp_fd`` is the one at ``mp`` and is served by a
        live daemon that holds the store ``store_st`` open. _Gone when its daemon is gone."""
        served = self._daemon_of(mp_fd, mp)
        if not served.daemon.holds(uswapd.file_key(store_st)):
            raise NotOursError(
                f"the FUSE mount at {mp} is served by pid {served.daemon.pid}, which does not "
                f"hold this backend's store {self.file_path} open: it is not this backend's. "
                "Nothing was written; it was left as it is."
            )
        return served

    def _daemon_of(self, mp_fd: int, mp: str) -> Served:
        """Who serves the FUSE mount at ``mp`` (reached through ``mp_fd``), as its ``stats``
        file names it and /proc finds it alive. _Gone when its daemon is gone."""
        try:
            top = os.fstat(mp_fd)
        except OSError as e:
            if e.errno in _CUT_OFF:
                raise _Gone(mp, cut_off=True) from e
            raise KernelError(f"cannot look at {mp}: {e.strerror}", errno=e.errno) from e
        found = uswapd.mount_at(mp)
        if found is None or found.devnum != uswapd.devnum(top.st_dev) or not found.ours:
            what = f"{found.fstype} {found.devnum}" if found else "no mount"
            raise NotOursError(
                f"{mp} is not this backend's FUSE mount any more (found: {what}). Nothing was "
                "written."
            )
        try:
            fd = os.open(STATS, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=mp_fd)
        except OSError as e:
            if e.errno in _CUT_OFF:
                raise _Gone(mp, cut_off=True) from e
            raise NotOursError(
                f"{mp} has no readable {STATS} file ({e.strerror}): it is not served by "
                "uswapd. Nothing was written."
            ) from e
        try:
            if os.fstat(fd).st_dev != top.st_dev:
                raise NotOursError(f"{mp}/{STATS} is not on the mount at {mp}")
            try:
                stats = uswapd.read_stats(fd)
            except KernelError as e:
                if e.errno in _CUT_OFF:
                    raise _Gone(mp, cut_off=True) from e
                raise
        finally:
            os.close(fd)
        serving = Daemon.of(stats["pid"]) if stats.get("pid") else None
        if serving is None:
            raise _Gone(mp)
        return Served(serving, stats)

    def _open_mountpoint(self, mp: str) -> int:
        """The mount point, reached by a walk from ``/`` through root's own directories; an
        O_PATH descriptor of the root of whatever is mounted there."""
        try:
            parent = safepath.open_parent(mp, [os.path.dirname(mp)])
        except FileNotFoundError:
            raise BackendError(f"{mp} does not exist: {self.file_path} is not served") from None
        with parent:
            try:
                return os.open(
                    parent.name,
                    os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                    dir_fd=parent.dirfd,
                )
            except OSError as e:
                raise KernelError(f"cannot open {mp}: {e.strerror}", errno=e.errno) from e

    def _open_area(self) -> tuple[int, int]:
        """(mount point, area file) of the recorded mount, opened read-only."""
        mp = self.mountpoint
        if mp is None:
            raise BackendError(f"{self.file_path} is not served by its daemon; enable it")
        mp_fd = self._open_mountpoint(mp)
        try:
            area = os.open(AREA, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=mp_fd)
        except OSError as e:
            os.close(mp_fd)
            if e.errno in _CUT_OFF:
                raise self._cut_off(mp) from e
            raise KernelError(f"cannot open {mp}/{AREA}: {e.strerror}", errno=e.errno) from e
        return mp_fd, area

    def _cut_off(self, mp: str) -> BackendError:
        """What a mount that answers ENOTCONN or ECONNABORTED means: its connection is
        gone, because its daemon ended (the kernel aborts it when /dev/fuse is closed) or,
        the daemon still alive, because the kernel aborted it: a request waited past the
        request timeout, or someone aborted it (``umount -f``, the connection's ``abort``
        file in /sys/fs/fuse/connections)."""
        d = self.daemon
        if d is None or not d.alive():
            return BackendError(f"the daemon serving {mp} is gone; enable the backend again")
        timeout = self.state.get("request_timeout")
        by_hand = "aborted by hand (umount -f, /sys/fs/fuse/connections/N/abort)"
        why = (
            f"most likely a request waited longer than the request timeout ({timeout} s), "
            f"uswapd being hung, frozen or starved; or it was {by_hand}"
            if timeout
            else f"it was {by_hand}"
        )
        return BackendError(
            f"the kernel aborted the FUSE connection at {mp} while uswapd {d.describe()} "
            f"still runs: {why}. Every request on it fails from now on, and any I/O in "
            "flight failed; if the area was swapped on, the pages swapped to it are lost to "
            "their processes. The daemon ends by itself once it runs again; then disable "
            "and enable the backend to serve its store again."
        )

    def _refuse_cut_off(self, mp: str) -> None:
        """BusyError while a uswapd that holds this backend's store lives on though the
        connection of its mount is gone (aborted, see ``_cut_off``): a write to the store
        it had begun may still land when it runs again, so no other daemon may serve the
        store meanwhile, and nothing is taken down under it."""
        for d in self._holding_store():
            raise BusyError(
                f"the kernel aborted the FUSE connection at {mp}, but uswapd {d.describe()}, "
                f"which holds {self.file_path}, has not ended (state "
                f"{uswapd.run_state(d.pid) or 'gone'}): a write to the store it had begun may "
                "still land, so no other daemon may serve the store. Nothing was done. It "
                "ends by itself once it runs again (thaw it if it is frozen; one blocked on "
                "its store's I/O ends when that I/O does); then try again."
            )

    def _attach_area(self) -> None:
        mp_fd, area = self._open_area()
        try:
            dev = self.device if self.device and self._backs(self.device, area) else None
            if dev is None:  # a crash between attaching and saving the state
                # Only a device this backend attached (its name field, ``_attached_here``):
                # a person's losetup of the area is another name for it, never taken (245/6).
                serving = store_mod.loops_serving(os.fstat(area))
                ours = [d for d in serving if ask_loop_device(d, self._attached_here)]
                dev = ours[0] if ours else None
            self.state["device"] = dev or self._configure_free_device(area)
            self.save_state()  # a crash from here on must not leave it unknown
        finally:
            os.close(area)
            os.close(mp_fd)

    def _detach_area(self) -> None:
        """LOOP_CLR_FD of every loop device that serves a file on this backend's FUSE mount
        (the recorded one, and one a crash attached before it was recorded); never of one
        that is active in /proc/swaps (ActiveAreaError). Its daemon may be gone: the device
        number of the mount says whose the loop device is."""
        if self.record.get("adopted"):
            self.state.pop("device", None)
            return
        mp = self.mountpoint
        if mp is not None and uswapd.mount_at(mp) is not None:
            self._refuse_second_daemon(self._serving(mp), self._holding_store())
        for dev in self._loops_over_our_mount():
            self._detach_device(dev)
        if mp is not None and uswapd.mount_at(mp) is not None:
            return  # the device is forgotten once the mount is down (``_stop_serving``)
        left = self._recorded_device_left(mp)
        if left is not None:
            raise BusyError(
                f"the loop device {left}, recorded as this backend's, is still attached to a "
                f"file named like its area, though nothing is mounted at {mp} any more: the "
                "mount was detached lazily and may still serve it (swapped on?). It was "
                "neither detached nor forgotten; check which area it serves (losetup -a, "
                "/proc/swaps), take it down if it is this backend's, and try again."
            )
        self.state.pop("device", None)

    def _recorded_device_left(self, mp: str | None) -> str | None:
        """The recorded loop device, while sysfs names a file on the mount point ``mp`` as
        its backing file (a name, read without asking the device or the mount)."""
        dev = self.device
        if not dev or mp is None or not re.fullmatch(r"/dev/loop[0-9]+", dev):
            return None
        name = _backing_name(Path(f"/sys/block/{dev[5:]}/loop/backing_file"))
        if name is None:
            return None  # nothing attached
        # Once the mount is detached lazily, sysfs names the file from the detached tree's
        # own root: "/area". Taken as ours: holding on to it only refuses.
        mine = name.startswith(os.fsencode(mp) + b"/") or name == os.fsencode("/" + AREA)
        return dev if mine else None

    def _loops_over_our_mount(self) -> list[str]:
        """The loop devices whose backing file lies on this backend's mount, the recorded
        device first. Only a device whose backing file sysfs names under the mount point
        is asked (LOOP_GET_STATUS64 may ask the file's FUSE daemon, and another's may be
        stopped); one attached by another path to the area is missed, and then the unmount
        refuses (EBUSY), which is the safe side."""
        mp = self.mountpoint
        found = uswapd.mount_at(mp) if mp else None
        if mp is None or found is None or not found.ours:
            return []
        out = []
        prefix = os.fsencode(mp) + b"/"
        for backing in sorted(Path("/sys/block").glob("loop*/loop/backing_file")):
            dev = "/dev/" + backing.parent.parent.name
            # The device opened first, its name read then: held open, a bound device
            # cannot be pointed at another file between the name and the question.
            with contextlib.suppress(OSError, BackendError), _opened_device(dev, os.O_RDONLY) as fd:
                name = _backing_name(backing)
                if name is not None and name.startswith(prefix) and self._serves_our_mount(fd):
                    out.append(dev)
        return sorted(out, key=lambda d: d != self.device)

    def _detach_device(self, dev: str) -> None:
        """Detach ``dev`` while it serves a file on this backend's mount as a device this
        backend attached (its name field, ``_attached_here``), through the loop kind's
        ``_clear`` (O_EXCL, no loop device over it, a deferred detach taken back). One a
        person attached over the area is refused, never detached (248/1)."""
        if not ask_loop_device(dev, self._serves_our_mount):
            return  # not a loop device now, or over nothing of ours: nothing to detach
        if not ask_loop_device(dev, self._attached_here):
            raise UnprovenDeviceError(f"{self._not_attached_here(dev)}. Nothing was changed.")

        def still_ours(fd: int) -> None:
            # Asked again on this descriptor: it may have been detached and reused.
            if not (self._serves_our_mount(fd) and self._attached_here(fd)):
                raise NotOursError(f"{dev} changed while it was being detached")

        self._clear(dev, still_ours)

    def _serves_our_mount(self, dev_fd: int) -> bool:
        mp = self.mountpoint
        found = uswapd.mount_at(mp) if mp else None
        if found is None or not found.ours:
            # Nothing of ours mounted: the device cannot serve it, and is not asked (the
            # question may go to a FUSE daemon, which may be gone).
            return False
        backing = store_mod.loop_backing(dev_fd)
        return backing is not None and uswapd.devnum(backing[0]) == found.devnum

    def _stop_serving(self) -> None:
        """Take this backend's mount down and end its daemon. Only a uswapd that holds this
        backend's store is ever signalled, through a pidfd of that very process (pid and
        start time): neither a process that took a recorded pid, nor one a stats file
        names. A mount served by anything else is left (NotOursError).

        The unmount is never lazy: it fails (EBUSY) while anything holds the area open, a
        loop device over it above all, swapped on or not; so a daemon is ended only once
        nothing can send it a page. A daemon that still runs though its mount is gone from
        here (detached lazily, still in use) is not ended: BusyError, which says so."""
        mp = self.mountpoint
        if mp is None:
            self._forget_daemon()
            return
        found = uswapd.mount_at(mp)
        serving: Daemon | None = None
        if found is not None:
            if not found.ours:
                raise NotOursError(
                    f"{mp} holds a {found.fstype} mount that is not this backend's: left as it is"
                )
            self._refuse_stopped()
            serving = self._serving(mp)
            if serving is not None and not self._ours(serving):
                raise NotOursError(
                    f"the FUSE mount at {mp} is served by pid {serving.pid}, which is not a "
                    "uswapd holding this backend's store: left as it is"
                )
        mine = self._holding_store()
        if found is not None:
            self._refuse_second_daemon(serving, mine)
            # umount2 waits for no request, but ends the mount only if nothing holds it:
            # no loop device serves its area any more (one just detached may keep its
            # backing file's name in sysfs until its last close, so it is forgotten here).
            uswapd.umount(mp)
            self.state.pop("device", None)
        elif mine:
            raise BusyError(
                f"uswapd {mine[0].describe()} still holds {self.file_path} open, though "
                f"nothing is mounted at {mp} any more: its mount was detached lazily and "
                "may still serve a loop device (swapped on?). It was not ended; detach what "
                "uses it (losetup -a names it) and try again."
            )
        for d in dict.fromkeys(x for x in (serving, *mine) if x is not None):
            uswapd.end(d)
        # mp is this backend's own, under the run directory (see ``mountpoint``).
        with contextlib.suppress(OSError):
            os.rmdir(mp)
        with contextlib.suppress(OSError):
            os.unlink(mp + ".log")
        self._forget_daemon()

    def _refuse_second_daemon(self, serving: Daemon | None, mine: list[Daemon]) -> None:
        """BusyError while a uswapd other than the one serving this backend's mount holds
        its store: it serves a mount detached lazily, which may still back a loop device in
        use (swapped on), so neither it nor the layers over it are to be taken down."""
        others = [d for d in mine if d != serving]
        if others:
            raise BusyError(
                f"uswapd {others[0].describe()} also holds {self.file_path} open, though it "
                f"does not serve {self.mountpoint}: its own mount was detached lazily, or "
                "made by hand, and may still serve a loop device (swapped on?). Nothing was "
                "taken down; detach what uses it (losetup -a names it) and try again."
            )

    def _serving(self, mp: str) -> Daemon | None:
        """The live daemon serving the mount at ``mp``; None when it is gone."""
        try:
            mp_fd = self._open_mountpoint(mp)
        except BackendError:
            return None
        try:
            return self._daemon_of(mp_fd, mp).daemon
        except _Gone as gone:
            if gone.cut_off:
                self._refuse_cut_off(mp)
            return None
        finally:
            os.close(mp_fd)

    def _refuse_stopped(self) -> None:
        """BusyError while a uswapd holding this store is stopped (SIGSTOP, a debugger):
        every request to its mount, the look at its ``stats`` included, would wait for it
        for ever, and with it the job. Asked of /proc, which does not wait for the daemon;
        a daemon stopped just after this look hangs the request until the request timeout,
        if there is one, cuts the connection off (``_cut_off``)."""
        timeout = self.state.get("request_timeout")
        for d in self._holding_store():
            if uswapd.stopping(d.pid) and d.alive():  # not a later process with its pid
                wait = "for ever" if not timeout else f"until its request timeout ({timeout} s)"
                deadline = (
                    f" before a request waits {timeout} s (the kernel then aborts its "
                    "connection, and an active area's pages are lost)"
                    if timeout
                    else ""
                )
                raise BusyError(
                    f"uswapd {d.describe()}, which serves {self.file_path}, is stopped: a "
                    f"request to its mount would wait for it {wait}. Nothing was done; let "
                    f"it run again (kill -CONT {d.pid}){deadline} or end it, and try again."
                )

    def _ours(self, d: Daemon) -> bool:
        """``d`` is a uswapd holding this backend's store open."""
        return d.is_uswapd() and d in self._holding_store()

    def _holding_store(self) -> list[Daemon]:
        """Every live uswapd holding this backend's store open, found by /proc: the store
        proven, and the file the record names by device and inode, found even when the
        store cannot be opened (deleted by hand, its mark damaged: a refusal must not fail
        open). A daemon holds a deleted store's inode, whose number no later file takes
        while it is open; a release pins the store it proved (``_release_proven``), and an
        enable holds it open, so the record's key names no other file while they look."""
        keys: list[uswapd.FileKey] = []
        try:
            store = self._backing_store()
        except BackendError:
            pass
        else:
            try:
                keys.append(uswapd.file_key(os.fstat(store.fd)))
            finally:
                if store is not self._store:
                    store.close()
        found: dict[Daemon, None] = {}
        for key in keys:
            found.update(dict.fromkeys(uswapd.holding(key)))
        recorded = self._recorded_key()
        if recorded is not None and recorded not in keys:
            # By the record alone only a daemon whose file carries this backend's mark: the
            # key of a store deleted unserved may name another backend's store now.
            for d in uswapd.holding(recorded):
                held = self._ours_held(d, recorded)
                if held is not None:
                    os.close(held)
                    found[d] = None
        return list(found)

    # ---- the open store: the loop device, proven by the area, the mount and the daemon ----

    def open_store(self, writable: bool) -> Store:
        """The loop device, with what proves it: the store file (by the walk from the swap
        root, locked while written), the FUSE mount point and its area file."""
        self._refuse_stopped()
        file_store = self._open_file(os.O_RDONLY)
        held = [file_store.fd]
        try:
            if writable:
                _lock(file_store.fd, file_store.path)
            mp_fd, area = self._open_area()
            held += [mp_fd, area]
            dev = self.swap_path
            fd = open_loop_node(dev, self.open_flags(writable))
        except BaseException:
            for h in held:
                os.close(h)
            raise
        return Store(fd, writable, dev, file_store.key, held=held)

    def check_identity(self, store: Store) -> None:
        if not store.held:  # the store file itself, kept by a provision
            self._check_file(store.fd, store.path)
            return
        file_fd, mp_fd, area = store.held
        self._check_file(file_fd, self.file_path)
        mp = self.mountpoint
        assert mp is not None
        try:
            served = self._check_served(mp_fd, mp, os.fstat(file_fd))
        except _Gone as gone:
            if gone.cut_off:
                raise self._cut_off(mp) from None
            # "Cannot tell", not "not ours": a destroy takes NotOursError for an area to
            # forget with its row (244/2).
            raise BackendError(
                f"the daemon serving {mp} is gone: nothing proves who serves it. Nothing was "
                "written; enable the backend again."
            ) from None
        if served.daemon != self.daemon:
            rec = self.daemon
            raise NotOursError(
                f"the FUSE mount at {mp} is served by uswapd {served.daemon.describe()}, not by "
                f"this backend's daemon, {f'uswapd {rec.describe()}' if rec else 'none recorded'}"
                ". Nothing was written."
            )
        self._check_area_served(store.fd, store.path, area, mp)

    def _check_area_served(self, dev_fd: int, dev: str, area: int, mp: str) -> None:
        """The loop device open on ``dev_fd`` (the descriptor written through) serves the
        very area file open on ``area`` (same device and inode)."""
        st = os.fstat(dev_fd)
        if not stat.S_ISBLK(st.st_mode) or os.major(st.st_rdev) != store_mod.LOOP_MAJOR:
            raise NotOursError(f"{dev} is not a loop device any more. Nothing was written.")
        want = os.fstat(area)
        backing, name = store_mod.loop_status(dev_fd)
        if backing != (want.st_dev, want.st_ino):
            found = "no file" if backing is None else f"another file (device, inode {backing})"
            raise NotOursError(
                f"the loop device now at {dev} is not this backend's: it serves {found}, not "
                f"{mp}/{AREA} (device, inode {(want.st_dev, want.st_ino)}). Nothing was "
                "written."
            )
        if name != self._tag:  # a person's losetup of the area (245/6)
            raise UnprovenDeviceError(f"{self._not_attached_here(dev)}. Nothing was written.")

    def check_exclusive(self, store: Store) -> None:
        if not store.held:
            self._check_no_loop(store.fd, store.path, mine=None)
            return
        file_fd, _, area = store.held
        # Ours is over the area: any loop device over the store file itself is another's.
        self._check_no_loop(file_fd, self.file_path, mine=None)
        self._check_no_loop(area, f"{self.mountpoint}/{AREA}", mine=store.path)

    def _own_loop_device(self, backing: int | None = None) -> str | None:
        return None  # no loop device of this kind serves the store file itself

    def _attached(self) -> bool:
        """Whether the recorded device serves this backend's mount now. False when there is
        no device, it is gone (no node: ENOENT; removed: ENXIO), it is no loop device, or it
        serves another file or none. Any other failure to ask it (EACCES from a device
        cgroup, EIO) is raised, as the loop kind's ``_backs`` does: read as "not attached",
        the page showed a device that may be swapping on the mount as detached."""
        dev = self.device
        if dev is None:
            return False
        try:
            # False too for a state naming another mount point (NotOursError).
            return ask_loop_device(dev, self._serves_our_mount)
        except KernelError as e:
            mp = self._mountpoint_or_none()
            if e.errno in _CUT_OFF and mp is not None:
                raise self._cut_off(mp) from e  # the daemon gone, or its connection aborted
            raise KernelError(
                f"cannot tell whether {dev} serves this backend's mount: {e.message}",
                errno=e.errno,
            ) from e

    def _mountpoint_or_none(self) -> str | None:
        """``mountpoint``, or None where the state names another place (refused there)."""
        try:
            return self.mountpoint
        except NotOursError:
            return None

    # ---- long writers: proven again as they go ----

    def recheck_store(self) -> None:
        """The contract's look between a scan's or a benchmark's slices, and the proof of
        who serves the mount again. While the descriptor is open its loop device cannot be
        re-pointed (the kernel defers a detach to the last close and refuses an attach over
        an attached device), and the area file it holds pins the FUSE connection, which only
        its daemon serves: what was proven when it was opened holds. A daemon that died
        meanwhile fails the writes (EIO); it cannot redirect them."""
        super().recheck_store()
        with self._io_lock:
            store = self._store
        if store is not None:
            self.check_identity(store)

    # ---- activation ----

    @classmethod
    def discard_refusal(cls, discard: str) -> str | None:
        return (
            "this kind's daemon refuses every discard, which would punch holes in a store "
            "that must stay allocated"
        )

    def check_swapon_options(self, priority: int | None, discard: str | None) -> None:
        """Besides a discard policy (refused always), an asked priority that is not below
        every other active area's: an area served through user space must fill last."""
        super().check_swapon_options(priority, discard)
        if priority is None:
            return
        dev = self.area_name()
        above = [a for a in kernel.swap_areas() if a.path != dev and a.priority <= priority]
        if above:
            raise UnsafeError(
                f"{dev} is not swapped on at priority {priority}: "
                f"{above[0].path} has "
                f"priority {above[0].priority}, and an area served through user space must "
                "be the last to fill. Nothing was changed; ask for a lower priority or none.",
                field="priority",
            )

    def swap_on(self, store: Store, *, priority: int | None, discard: str | None) -> None:
        """swapon(2) of the proven descriptor, refused first, changing nothing: with options
        ``check_swapon_options`` refuses; while its daemon runs without PR_SET_IO_FLUSHER
        (IoFlusherRefused: its own allocations could enter reclaim, which may write to this
        very area and wait for the daemon). Without an asked priority, one below every other
        area's is chosen, so that this area fills last."""
        dev = self.swap_path
        self.check_swapon_options(priority, discard)
        if priority is None:
            priority = lowest_priority([a for a in kernel.swap_areas() if a.path != dev])
        self._require_io_flusher(store)
        kernel.swapon(dev, priority=priority, discard=None, fd=store.fd)

    def _require_io_flusher(self, store: Store) -> None:
        mp = self.mountpoint
        assert mp is not None and store.held
        served = self._check_served(store.held[1], mp, os.fstat(store.held[0]))
        if served.stats.get("io_flusher") == 1:
            return
        raise IoFlusherRefused(
            f"{self.swap_path} is not swapped on: its daemon, uswapd "
            f"{served.daemon.describe()}, runs without PR_SET_IO_FLUSHER. {IO_FLUSHER_WHY}. "
            "Nothing was changed. Give the worker CAP_SYS_RESOURCE and activate the backend "
            "again: its daemon is then started again with the flag."
        )

    # ---- the store's life beyond enable ----

    def remove(self) -> bool:
        """Delete the store as the file kind does; refused while it is served: mounted at
        this backend's mount point, or held open by any uswapd (one a crash left
        unrecorded, one whose mount was detached lazily)."""
        mp = self.mountpoint
        if mp is not None and uswapd.mount_at(mp) is not None:
            raise ActiveAreaError(
                f"{self.file_path} is still served by uswapd at {mp}: its release did not "
                "take the mount down. Nothing was removed."
            )
        holding = self._holding_store()
        if holding:
            raise ActiveAreaError(
                f"{self.file_path} is still held open by uswapd {holding[0].describe()}, "
                "though nothing is mounted at this backend's mount point (detached lazily?): "
                "find what uses it (losetup -a), take it down and end the daemon. Nothing was "
                "removed."
            )
        return super().remove()

    def resize(self, new_size_bytes: int) -> None:
        SwapBackend.resize(self, new_size_bytes)

    # ---- what the host shows ----

    def describe(self) -> dict[str, Any]:
        try:
            out = super().describe()
        except BackendError as e:
            # The loop device could not be asked (a daemon gone answers ENOTCONN): the
            # daemon's own facts below say why, and must not be left out with the rest.
            out = SwapBackend.describe(self)
            out.update(device=self.device, attached=None, unreadable={"attached": e.message})
        rec = self.daemon
        # None: a state naming another place, shown as not mounted.
        out["mountpoint"] = self._mountpoint_or_none()
        out["daemon_pid"] = rec.pid if rec else None
        out["daemon_running"] = bool(rec and rec.alive())
        out["io_flusher"] = self.state.get("io_flusher")
        return out


def _timeout_fact(asked: object, effective: object, started: bool) -> Fact:
    """The request timeout the kernel applies to the daemon's connection (what its INIT
    reply asked, bounded by the fs.fuse sysctls), and a problem when the kernel could not
    take the one asked for (before Linux 6.14 it offers none)."""
    if not isinstance(effective, int) or isinstance(effective, bool):
        # Started by a swapadmin that asked for none, or not started at all.
        return Fact("Request timeout", "none asked" if started else "unknown (not started)")
    if effective:
        return Fact(
            "Request timeout",
            f"{effective} s: then the kernel aborts the connection, and an active area's "
            "pages are lost",
        )
    if isinstance(asked, int) and asked > 0:
        return Fact(
            "Request timeout",
            "none",
            problem=f"{asked} s was asked for, but the kernel offers no request timeout "
            "(FUSE 7.43, Linux 6.14): a hung daemon makes its waiters wait for ever",
        )
    return Fact("Request timeout", "none: the kernel waits for the daemon for ever")


class _Gone(Exception):
    """The FUSE mount's daemon is gone: its connection answers ENOTCONN or ECONNABORTED
    (``cut_off``), or its ``stats`` names no live process."""

    def __init__(self, mp: str, *, cut_off: bool = False) -> None:
        super().__init__(mp)
        self.cut_off = cut_off


def _empty_mountpoint(parent: safepath.Beneath) -> None:
    """The mount point directory made (0700, root's) or found empty and unmounted."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(parent.name, 0o700, dir_fd=parent.dirfd)
    try:
        fd = os.open(
            parent.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
            dir_fd=parent.dirfd,
        )  # fmt: skip
    except OSError as e:
        raise KernelError(f"cannot open {parent.path}: {e.strerror}", errno=e.errno) from e
    try:
        st = os.fstat(fd)
        if st.st_dev != os.fstat(parent.dirfd).st_dev:
            raise NotOursError(f"something is mounted at {parent.path}: left as it is")
        if st.st_uid != 0 or stat.S_IMODE(st.st_mode) & 0o077:
            raise UnsafeError(
                f"{parent.path} is not root's alone (uid {st.st_uid}, mode "
                f"{stat.S_IMODE(st.st_mode):o}); remove it and enable the backend again"
            )
        if os.listdir(fd):
            raise UnsafeError(f"{parent.path} is not empty: uswapd mounts only on an empty one")
    finally:
        os.close(fd)


def _backing_name(sysfs: Path) -> bytes | None:
    """A loop device's backing file as sysfs names it, as bytes (a name need not be UTF-8),
    without " (deleted)"; None when nothing is attached."""
    try:
        raw = sysfs.read_bytes()
    except OSError:
        return None
    return raw.removesuffix(b"\n").removesuffix(b" (deleted)")


def _tail(dirfd: int, name: str, limit: int = 2000) -> str:
    """The end of the daemon's log, on one line."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
    except OSError:
        return ""
    try:
        size = os.fstat(fd).st_size
        raw = os.pread(fd, limit, max(0, size - limit))
    finally:
        os.close(fd)
    return " ".join(raw.decode(errors="replace").split())


__all__ = ["IO_FLUSHER_WHY", "IoFlusherRefused", "UserspaceBackend", "io_flusher_granted"]
