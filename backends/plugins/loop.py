"""A swap file served through a loop device with direct I/O.

Swapping through a loop device lets a file live where the kernel's swap-file path cannot go
directly, at the cost of one more layer. The file is made and verified exactly as the file
kind makes it; the loop device is taken with LOOP_CTL_GET_FREE and LOOP_CONFIGURE (one
atomic ioctl that sets the file and the flags, unlike LOOP_SET_FD + LOOP_SET_STATUS), with
direct I/O so pages do not sit twice in the page cache.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import struct
import uuid as uuid_mod
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Final

from .. import adoption, devices, kernel, presence
from .. import store as store_mod
from ..base import PAGE_SIZE, Fact
from ..errors import (
    ActiveAreaError,
    BackendError,
    BusyError,
    KernelError,
    NoDeviceError,
    NotOursError,
    UnprovenAreaError,
    UnprovenDeviceError,
    before_any_change,
    printable,
)
from ..policy import Policy
from ..store import Store
from .file import FileBackend, _lock

LOOP_CTL_GET_FREE: Final = 0x4C82
LOOP_CONFIGURE: Final = 0x4C0A
LOOP_CLR_FD: Final = 0x4C01
LOOP_SET_CAPACITY: Final = 0x4C07
LO_FLAGS_DIRECT_IO: Final = 16
LO_NAME_SIZE: Final = 64

_LOOP_INFO64 = store_mod.LOOP_INFO64  # struct loop_info64, described where it is read
# struct loop_config: fd, block_size, info, 8 reserved u64.
_LOOP_CONFIG = struct.Struct(f"=II{_LOOP_INFO64.size}s64x")
_ATTACH_ATTEMPTS = 5


class LoopBackend(FileBackend):
    """A swap file (same checks as the file kind) attached to a loop device.
    ``state = {"device": "/dev/loopN"}`` once attached; ``swap_path`` and ``io_path`` are
    the device."""

    name: ClassVar[str] = "loop"
    label: ClassVar[str] = "Loop device"
    description: ClassVar[str] = (
        "A swap file under a swap root, attached to a free loop device with direct I/O."
    )
    # Nothing attaches the loop device again at boot, so no fstab line can name it.
    persistable: ClassVar[bool] = False
    device_is_ephemeral: ClassVar[bool] = True
    #: Our O_EXCL descriptor on the loop device while a resize holds it, and that device
    #: (``_hold``), for the file writes' look to take as ours.
    _claim: int | None = None
    _held_device: str | None = None

    @classmethod
    def fstab_spec(cls, params: Mapping[str, Any], swap_uuid: str | None) -> str | None:
        return None

    @classmethod
    def existing_size(cls, path: str, params: Mapping[str, Any]) -> int | None:
        return os.path.getsize(params["path"])  # the backing file's: the device has its size

    @classmethod
    def adoption_claim(cls, path: str) -> int:
        return 2 if path.startswith("/dev/") and os.path.basename(path).startswith("loop") else 0

    @classmethod
    def adopt(
        cls, path: str, policy: Policy, *, active: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        backing = f"/sys/block/{os.path.basename(path)}/loop/backing_file"
        try:
            file_path = kernel.read_names(backing).removesuffix("\n")
        except OSError:
            raise BackendError(f"{path} is a loop device without a backing file") from None
        if printable(file_path) != file_path:
            # A backend's path is text the database, the pages and the API all hold.
            raise BackendError(
                f"{path} serves {file_path}, whose name is not UTF-8, which no backend's path "
                "can be"
            )
        # Adopted from the first look: the device is someone else's, which this kind's
        # proof of its own devices (``_serves_as_ours``) must not refuse while it is read.
        state = {
            "device": path,
            "store": {"adopted": True},
            **adoption.root_state(file_path, policy, active=active),
        }
        return {"path": file_path}, state

    @classmethod
    def facts(
        cls,
        info: Mapping[str, Any],
        params: Mapping[str, Any],
        state: Mapping[str, Any],
        swap_path: str | None,
    ) -> list[Fact]:
        device = str(info.get("device") or state.get("device") or "not attached")
        if info.get("attached") is False:
            device += " (not attached)"
        direct_io = info.get("direct_io")
        direct = "yes" if direct_io is True else "no" if direct_io is False else "unknown"
        return [
            Fact("Loop device", device, mono=True),
            Fact(
                "Backing file", str(info.get("backing_file") or params.get("path") or ""), mono=True
            ),
            Fact("Direct I/O", direct),
        ]

    @classmethod
    def creation_prepares(cls, where: str, size: str) -> str:
        return (
            f"Create a backing file of {size} at {where} (a file already there only if "
            "swapadmin made it or it already is swap) and attach a loop device."
        )

    @classmethod
    def destroy_removes(cls, path: str, size: str) -> str:
        return (
            f"The loop device {path} is detached and its backing file removed, if swapadmin "
            "made that file."
        )

    @property
    def device(self) -> str | None:
        dev = self.state.get("device")
        return str(dev) if dev else None

    @property
    def swap_path(self) -> str:
        if self.device is None:
            raise NoDeviceError(f"{self.file_path} is not attached to a loop device; enable it")
        return self.device

    # ---- the open store: the loop device, proven by the file it serves ----

    def open_store(self, writable: bool) -> Store:
        """The loop device, opened with the backing file that proves it: the file through
        the walk from the swap root (locked while written), the device by its path."""
        try:
            file_store = self._open_file(os.O_RDONLY)
        except BackendError as e:
            # Whose the recorded device is, before the file's failure is said: a device this
            # backend did not attach is another's whatever became of the file; said as the
            # file's "cannot tell", a destroy was refused unless a person swapped their own
            # area off (245/5). With the file there, its own proof speaks first (a record
            # copied from another backend), and the device's after, on its descriptor.
            self._refuse_a_device_another_attached(any_file=True)
            if _file_gone(e) or isinstance(e, NotOursError):
                # Not for a filesystem that is not mounted, a swap root to mend, EIO: mended,
                # the area proves itself again, with no swapoff by hand (250/2).
                self._refuse_our_device_left_on(why=e)
            raise
        try:
            if writable:
                _lock(file_store.fd, file_store.path)
            dev = self.swap_path
            fd = open_loop_node(dev, self.open_flags(writable))
        except BaseException:
            file_store.close()
            raise
        return Store(fd, writable, dev, file_store.key, held=[file_store.fd])

    def check_identity(self, store: Store) -> None:
        backing = store.held[0]
        try:
            self._check_file(backing, self.file_path)
        except NotOursError as e:
            self._refuse_our_device_left_on(backing, e)
            raise
        self._check_serves(store.fd, store.path, backing)

    def _refuse_our_device_left_on(
        self, file_fd: int | None = None, why: BackendError | None = None
    ) -> None:
        """UnprovenAreaError, with the one way out, when the recorded device is the one this
        backend attached (its name field) and swapped on, but no file proves that area this
        backend's: it serves a file that is not the one at the path now (unlinked or
        replaced), or, given ``why``, the one there (open as ``file_fd``) that no longer
        proves to be this backend's. Said as the file's failure, a destroy took it for "not
        this backend's" and then failed on the detach, and a person was sent from "provision
        it again" to "deactivate it" and back (248/6). The path is looked at only to choose
        the words: the refusal rests on the device's descriptor (its name field, and active)
        and the file's failed proof (251/1). Nothing for any other device."""
        dev = self.device
        if dev is None or self.record.get("adopted"):
            return
        words: list[str] = []

        def ours_on(fd: int) -> bool:
            served, name = store_mod.loop_status(fd)
            if served is None or name != self._tag or store_mod.active_path(fd) is None:
                return False
            try:
                now = self._file_now(file_fd)
            except OSError as e:
                words.append(f"over a file that cannot be looked at now ({e.strerror})")
                return True
            if served != now:
                words.append(
                    f"over a file that is not {self.file_path} now (unlinked or replaced since)"
                )
            else:
                reason = why.message if why is not None else "its proof failed"
                reason = reason.removesuffix("Nothing was written.").strip().rstrip(".")
                words.append(
                    f"over {self.file_path}, which no longer proves to be this backend's ({reason})"
                )
            return True

        if ask_loop_device(dev, ours_on):
            raise UnprovenAreaError(
                f"{dev} is the loop device this backend attached, swapped on, but {words[0]}: "
                "its pages hold live memory, and no job of swapadmin's can prove that area to "
                f"swap it off. Swap it off by hand (swapoff {dev}) once RAM can take what it "
                "holds, then destroy the backend or provision it again. Nothing was written."
            )

    def _file_now(self, file_fd: int | None) -> tuple[int, int] | None:
        """(st_dev, st_ino) of the file open as ``file_fd``, or of what the path names now
        (None when nothing): only to choose the words of a refusal, never a proof."""
        if file_fd is not None:
            st = os.fstat(file_fd)
        else:
            try:
                st = os.lstat(self.file_path)
            except FileNotFoundError:
                return None
        return st.st_dev, st.st_ino

    def check_exclusive(self, store: Store) -> None:
        if store.held:
            self._check_no_loop(store.held[0], self.file_path, mine=store.path)
        else:  # the backing file itself (a provision before it is attached, a resize)
            # A resize's held device is ours before its record is written (234/5).
            mine = self._held_device or self._own_loop_device(store.fd)
            self._check_no_loop(store.fd, store.path, mine=mine)
            if mine is not None:
                # Its bytes are our device's too: a loop device over that device, swapped
                # on, is an area over this very file, which no look at the file sees
                # (227/1). Only while it still serves the file: a record left from before
                # may name another's loop device by now, no name for our bytes (228/6).
                _over_our_device(mine, os.fstat(store.fd), claim=self._claim)

    def _own_loop_device(self, backing: int | None = None) -> str | None:
        """The device that serves our file (of ``backing``, or the file opened again) as
        this backend's (``_backs``): the recorded one, or, when a crash lost the record or
        it is stale, the one found (``_find_our_device``). Never the record unchecked: a
        stale one may name a person's device over the file, which a look for other names
        must not pass as ours (245/2)."""
        if backing is None:
            store = self._open_file(os.O_RDONLY)
            try:
                return self._own_loop_device(store.fd)
            finally:
                store.close()
        if self.device and self._backs(self.device, backing):
            return self.device
        return self._find_our_device(backing)

    def _check_serves(self, dev_fd: int, dev: str, file_fd: int) -> None:
        """The open loop device is attached to the open backing file (same inode), as a
        device this backend attached (``_named_ours``), both of one LOOP_GET_STATUS64."""
        st = os.fstat(dev_fd)
        want = os.fstat(file_fd)
        if not stat.S_ISBLK(st.st_mode) or os.major(st.st_rdev) != store_mod.LOOP_MAJOR:
            raise NotOursError(f"{dev} is not a loop device any more. Nothing was written.")
        backing, name = store_mod.loop_status(dev_fd)
        if backing != (want.st_dev, want.st_ino):
            found = "no file" if backing is None else f"another file (device, inode {backing})"
            raise NotOursError(
                f"the loop device now at {dev} is not this backend's: it serves {found}, not "
                f"{self.file_path}. Nothing was written."
            )
        if name != self._tag and _anothers_tag(name) and not self.record.get("adopted"):
            raise _AnotherBackendsDevice(_anothers_words(dev, name))  # a copied record (250/3)
        if not self._named_ours(name):  # of the same read as the inode
            raise UnprovenDeviceError(f"{self._not_attached_here(dev)}. Nothing was written.")

    def adopt_store(self) -> None:
        """As the base records it, the record adopted before the store is opened: the device
        is someone else's, which the proof of this backend's own devices must not refuse
        while it is read (as ``adopt`` starts the state)."""
        self.update_record(adopted=True)
        super().adopt_store()

    def _not_attached_here(self, dev: str, serves: str | None = None) -> str:
        """The words for a recorded device that serves a file but that this backend did not
        attach (no ``_tag``): a person's losetup, or a swapadmin from before the tag."""
        return (
            f"the loop device now at {dev} is not this backend's: it did not attach it (someone "
            "attached a file to it by hand with losetup, or a swapadmin from before "
            "2026-12-07 did, whose devices do not carry the backend's id), so swapadmin "
            "neither writes through it, swaps it on or off, nor detaches it. It serves "
            f"{serves or f'{self.file_path} (or the file this backend made there)'}: swap it "
            "off by hand if "
            f"it is on (swapoff {dev}), detach it (losetup -d {dev}), then activate the "
            "backend (or destroy it, if it should go)"
        )

    def _recorded_inode(self) -> tuple[int, int] | None:
        """The (st_dev, st_ino) of the file as this backend recorded it (its ``key``)."""
        key = self.record.get("key")
        parts = key.split(":") if isinstance(key, str) else []
        if len(parts) == 3 and parts[0] == "file" and all(p.isdigit() for p in parts[1:]):
            return int(parts[1]), int(parts[2])
        return None

    def _refuse_a_device_another_attached(
        self, backing: int | None = None, *, any_file: bool = False
    ) -> None:
        """UnprovenDeviceError when the recorded device serves a file but not as one this
        backend attached (no ``_tag``): a person's losetup, or a device a swapadmin from
        before the tag attached, which look the same; ``_AnotherBackendsDevice`` when it
        carries another backend's tag (a copied record). Refused, never forgotten or passed
        over, when it
        serves this backend's file open as ``backing`` (245/1), or, while it is swapped on,
        the file as recorded (its inode: unlinked or renamed since, 246/1, 247/1) or any
        file for a record too old to say which (247/4): an area that may be this backend's
        is never left on with the row gone. Off, a device over an inode that only equals
        the recorded one is left, and the row may go: the number may have been given to a
        file made since (247/2). Over another file, only with ``any_file``, in the words
        that say which (246/2). Nothing for an adopted area, no device recorded, or one that
        serves nothing."""
        dev = self.state.get("device")
        if not dev or self.record.get("adopted"):
            return
        current = None
        if backing is not None:
            st = os.fstat(backing)
            current = (st.st_dev, st.st_ino)
        recorded = self._recorded_inode()
        seen: list[tuple[tuple[int, int], bool, bytes]] = []

        def anothers(fd: int) -> bool:
            served, name = store_mod.loop_status(fd)
            if served is None or name == self._tag:
                return False
            seen.append((served, store_mod.active_path(fd) is not None, name))
            return True

        if not ask_loop_device(str(dev), anothers):
            return
        served, on, name = seen[0]
        as_recorded = recorded is None or served == recorded
        refused = served == current or (on and as_recorded) or (any_file and served == recorded)
        if (refused or (any_file and recorded is None)) and _anothers_tag(name):
            raise _AnotherBackendsDevice(_anothers_words(str(dev), name))  # a copied record
        if refused:
            raise UnprovenDeviceError(f"{self._not_attached_here(str(dev))}. Nothing was written.")
        if any_file and recorded is None:  # which file, no record can say (248/4)
            # Named as sysfs names it: it may be any file, a person's image (250/4).
            said = _backing_name(str(dev))
            words = self._not_attached_here(
                str(dev),
                serves=f"{said}, which may be the file "
                "this backend made (its record is too old to say)",
            )
            raise UnprovenDeviceError(f"{words}. Nothing was written.")
        if any_file:
            raise NotOursError(
                f"the loop device now at {dev} is not this backend's: it serves another file "
                f"(device, inode {served}), not {self.file_path}. Nothing was written."
            )

    def _let_go_of(self, dev: str, why: BackendError | None = None) -> None:
        """Detach ``dev`` when it is a device this backend attached (``_attached_here``) but
        over a file that is not its own now (unlinked, replaced; ``why`` its proof's failure,
        when one was tried): still this backend's, and attached over its old bytes for good
        if only forgotten (244/15, 245/4). Refused while in use (``_clear``)."""
        if not ask_loop_device(dev, self._attached_here):
            return

        def still_ours(fd: int) -> None:
            if not self._attached_here(fd):
                raise NotOursError(f"{dev} changed while it was being detached")

        try:
            self._clear(dev, still_ours)
        except ActiveAreaError:
            # "Deactivate it" would not work for its area over a file this backend no longer
            # has: no job can prove it, so the way out is a person's swapoff (248/6).
            self._refuse_our_device_left_on(why=why)
            raise

    # ---- enable / disable ----

    def swapfile(self, enable: bool) -> None:
        """On True: the file is provisioned (or, outside a provision, verified) as the file
        kind does, and attached to exactly one loop device, recorded in ``state``; a device
        already backed by our file is reused. On False: the device is detached and
        forgotten, unless active."""
        if enable:
            self.provision_file()
            self._attach()
        else:
            self._detach()

    def _backing_store(self) -> Store:
        """The backing file, proven this backend's: the store a provision just took, or
        the file opened again and checked on its descriptor."""
        if self._store is not None and self._store.path == self.file_path:
            return self._store
        store = self._open_file(os.O_RDONLY)
        try:
            self._check_file(store.fd, store.path)
        except BaseException:
            store.close()
            raise
        return store

    def _attach(self) -> None:
        backing = self._backing_store()
        try:
            recorded = self.device
            dev = recorded if recorded and self._backs(recorded, backing.fd) else None
            if recorded and dev is None:
                # Refused rather than a second device attached beside it (245/1); ours over
                # an old file is let go of rather than leaked (245/4).
                self._refuse_a_device_another_attached(backing.fd)
                self._let_go_of(recorded)
            # After a crash between attaching and storing state, the device is found again.
            dev = dev or self._find_our_device(backing.fd)
            if dev is None and not self.may_make_store:
                raise NoDeviceError(
                    f"{self.file_path} is not attached to a loop device any more; none is attached"
                )
            if dev is None:
                dev = self._configure_free_device(backing.fd)
            self.state["device"] = dev
            self.save_state()  # a crash from here on must not leave it unknown
        finally:
            # Page I/O goes through the device from now on: the next descriptor is the
            # device's, proven by this file again.
            if backing is self._store:
                self.close()
            else:
                backing.close()

    def _detach(self) -> None:
        if self.record.get("adopted"):
            # Someone else attached it: released from management, never detached.
            self.state.pop("device", None)
            return
        try:
            backing = self._backing_store()
        except BackendError as e:
            if not (isinstance(e, NotOursError) or _file_gone(e)):
                # Not read (EIO, EACCES, EMFILE): the device may still serve the file, and
                # swap on it. Forgotten, it would be taken for inactive and never detached.
                raise
            # The file at the path is gone or not this backend's. A device the record names
            # over the file as recorded, which this backend did not attach, is refused, not
            # forgotten (246/1); the device it attached is still its own (its name field),
            # whatever file it serves now: detached when off, refused when on, never left
            # attached and forgotten (244/1, 244/15). Any other is not ours to touch.
            if self.device is not None:
                try:
                    self._refuse_a_device_another_attached()
                except _AnotherBackendsDevice:
                    pass  # another backend's own device (a copied record): theirs, forgotten
                else:
                    self._let_go_of(self.device, why=e)
            self.state.pop("device", None)
            return
        try:
            if self._detach_serving(backing.fd):
                self.state.pop("device", None)
        finally:
            # One close for every way out, a refusal's or a failed look's (246/3).
            if backing is not self._store:
                backing.close()

    def _detach_serving(self, backing: int) -> bool:
        """Detach the device that serves the open file as this backend's: the recorded one,
        or, when a crash lost the record, the one this backend attached
        (``_find_our_device``), never merely the first that serves the file: a person's
        device over it is not this backend's to detach (240/2). False when no device is
        recorded or found (nothing to forget); True once the one there is detached, or
        serves the file no more, so the record may go."""
        dev = self.device
        if dev is not None and not self._backs(dev, backing):
            self._refuse_a_device_another_attached(backing)  # kept, not forgotten
            self._let_go_of(dev)
        if dev is None or not self._backs(dev, backing):
            dev = self._find_our_device(backing) or dev
        if dev is None:
            return False
        if self._backs(dev, backing):
            self._clear(dev, lambda fd: self._check_serves(fd, dev, backing))
        # else detached already, perhaps reused since by someone else: not ours to touch.
        return True

    @staticmethod
    def _clear(dev: str, check: Callable[[int], object]) -> None:
        """Detach ``dev``, refused while anything uses it: a LOOP_CLR_FD of a device in use
        only marks it to detach at its last close, leaving it attached under what uses it.
        ``check`` raises unless the device opened for it is still this backend's. A device
        another process merely holds open is found only after the LOOP_CLR_FD: the mark to
        detach at the last close is taken back (``_keep_attached``), and a BusyError says so,
        the device and the record kept for the job's next try."""
        try:
            # O_EXCL: a swapon, a mount, a dm or md device over it, or another's claim all
            # refuse it (EBUSY), which a look at /proc/swaps by name, made before the open,
            # did not see (245/3).
            fd = open_loop_node(dev, os.O_RDWR | os.O_EXCL)
        except KernelError as e:
            if e.errno != errno.EBUSY:
                raise
            if kernel.is_active(dev):
                raise ActiveAreaError(
                    f"{dev} is active in /proc/swaps; deactivate it before detaching the loop "
                    "device"
                ) from e
            raise ActiveAreaError(
                f"{dev} is in use (mounted, or claimed by another), so it is not detached"
            ) from e
        try:
            check(fd)
            _check_nothing_over(fd, dev, doing="detach it", probe=False)
            try:
                fcntl.ioctl(fd, LOOP_CLR_FD)
            except OSError as e:
                if e.errno != errno.ENXIO:  # ENXIO: nothing attached any more
                    raise KernelError(f"cannot detach {dev}: {e.strerror}", errno=e.errno) from e
            if store_mod.loop_status(fd)[0] is not None:
                # Another process holds it open: the kernel only marked it to detach at its
                # last close. The mark is taken back, so the failed job leaves the device as
                # it was, never one that detaches itself under a later swapon (246/5).
                _keep_attached(fd, dev)
                raise BusyError(
                    f"{dev} is held open by another process, so it was not detached; this "
                    "backend keeps it and its record. Try again once that process closes it"
                )
        finally:
            os.close(fd)

    def _attached_here(self, fd: int) -> bool:
        """Whether the open loop device serves a file and carries this backend's ``_tag``:
        attached by this backend, whatever file that is now (its own, unlinked or renamed)."""
        served, name = store_mod.loop_status(fd)
        return served is not None and name == self._tag

    def _configure_free_device(self, backing: int) -> str:
        for _ in range(_ATTACH_ATTEMPTS):
            number = _get_free_loop()
            dev = f"/dev/loop{number}"
            try:
                self._configure(dev, backing)
            except BusyError:
                continue  # another process took it between GET_FREE and CONFIGURE
            return dev
        raise BusyError(
            f"no free loop device could be taken after {_ATTACH_ATTEMPTS} attempts "
            "(others are attaching at the same time); try again"
        )

    def _configure(self, dev: str, backing: int) -> None:
        """Attach the proven backing descriptor itself: the device serves the very file
        that was checked, whatever its path names meanwhile."""
        path = self.file_path
        # The device's own name field carries whose it is, written by the very ioctl that
        # attaches it: a crash before the record is saved leaves a device that proves to be
        # this backend's on its own descriptor, which a person's losetup of the same file
        # (its path there) never does (240/1). sysfs still names the file by its path.
        info = _LOOP_INFO64.pack(
            0, 0, 0, 0, 0, 0, 0, 0, LO_FLAGS_DIRECT_IO, self._tag, b"", b"", 0, 0
        )
        rw = os.open(f"/proc/self/fd/{backing}", os.O_RDWR | os.O_CLOEXEC)
        try:
            if os.fstat(rw).st_ino != os.fstat(backing).st_ino:
                raise NotOursError(f"{path} changed while it was being attached")
            with _opened_device(dev) as fd:
                config = _LOOP_CONFIG.pack(rw, PAGE_SIZE, info)
                try:
                    fcntl.ioctl(fd, LOOP_CONFIGURE, config)
                except OSError as e:
                    if e.errno == errno.EBUSY:
                        raise BusyError(f"{dev} was taken by another process") from e
                    raise KernelError(
                        f"cannot attach {path} to {dev}: {e.strerror}", errno=e.errno
                    ) from e
        finally:
            os.close(rw)

    # ---- which loop device is ours ----

    def _backs(self, dev: str, backing: int) -> bool:
        """True when ``dev`` is a loop device attached to the open file (same inode). False
        when it serves another file or none (detached), is no loop device at all, or is
        gone: no node (ENOENT), or the node of a device removed (ENXIO). Any other failure
        to ask it (EACCES from a device cgroup, EMFILE, EIO) is raised: read as "not
        ours", a device that may be swapping on the file would be forgotten undetached,
        or the file attached to a second device beside it."""
        try:
            return ask_loop_device(dev, lambda fd: self._serves_as_ours(fd, backing))
        except KernelError as e:
            raise KernelError(
                f"cannot tell whether {dev} serves this backend's file: {e.message}",
                errno=e.errno,
            ) from e

    @property
    def _tag(self) -> bytes:
        """What ``_configure`` writes as the device's name (``lo_file_name``): this backend's
        public id, so that a device it attached is told from another's over the same file."""
        return TAG_PREFIX + (self.owner or "").encode()[: LO_NAME_SIZE - 1 - len(TAG_PREFIX)]

    def _serves_as_ours(self, fd: int, backing: int) -> bool:
        """Whether the open loop device serves the open file (same inode) as a device this
        backend attached: its name field holds ``_tag``, read with the inode in one ioctl
        on the descriptor. A device a person attached to the same file (losetup: its path
        there) is another name for its bytes, never this backend's to record, swap on,
        write through or detach, whatever number it was given (240/1-2). An adopted area's
        device was attached by someone else: the one that serves its file. (A device this
        kind attached before its name field held the tag is not this backend's either:
        detached by hand, the file is attached again with it.)"""
        want = os.fstat(backing)
        served, name = store_mod.loop_status(fd)
        return served == (want.st_dev, want.st_ino) and self._named_ours(name)

    def _named_ours(self, name: bytes) -> bool:
        """Whether a device's name field makes it this backend's: ``_tag``, or any for an
        adopted area (someone else attached it)."""
        return bool(self.record.get("adopted")) or name == self._tag

    def _find_our_device(self, backing: int) -> str | None:
        """The loop device that serves the open file as this backend's (``_serves_as_ours``),
        when no record names one (a crash lost it, or it is stale)."""
        # sysfs names the backing file, so only devices that name ours are opened to confirm;
        # only the kernel's newline is cut, as a name may end in spaces (247/3).
        for name in sorted(Path("/sys/block").glob("loop*/loop/backing_file")):
            with contextlib.suppress(OSError):
                if kernel.read_names(name).removesuffix("\n") != self.file_path:
                    continue
                dev = "/dev/" + name.parent.parent.name
                if self._backs(dev, backing):
                    return dev
        return None

    def _attached(self) -> bool:
        """Whether the recorded device serves our file now; False when there is no device,
        no file (or not ours), or the device serves another file or none. What cannot be
        read of either is raised (see ``_backs``)."""
        dev = self.device
        if dev is None:
            return False
        try:
            backing = self._open_file(os.O_RDONLY)
        except BackendError as e:
            if isinstance(e, NotOursError) or _file_gone(e):
                return False
            raise
        try:
            return self._backs(dev, backing.fd)
        finally:
            backing.close()

    # ---- the file's life beyond enable ----

    def remove(self) -> bool:
        """Delete the file as the file kind does; refuses while a loop device still holds it."""
        if self._attached():
            raise ActiveAreaError(
                f"{self.file_path} is still attached to {self.device}; disable it first"
            )
        return super().remove()

    def resize(self, new_size_bytes: int) -> None:
        """Resize the inactive file through its own proven descriptor, its loop device held
        throughout (``_hold``), and tell the device its new size."""
        with before_any_change():
            if self.record.get("adopted"):
                raise NotOursError(
                    f"{self.file_path} was adopted: it is left as it is, never resized"
                )
            if self._store is not None and self._store.path != self.file_path:
                self.close()
            store = self._open_file(self.open_flags(True))
        claim: int | None = None
        try:
            with before_any_change():
                try:
                    _lock(store.fd, store.path)
                    self._check_file(store.fd, store.path)
                    if not self._taken:
                        self._require_identity(store)
                        self.check_swap_uuid(store)
                    dev = self._serving_device(store.fd)
                    # No other loop device serves the file: the one found is the only one,
                    # so another's is not claimed, not even for the look after (234/5).
                    self._check_no_loop(store.fd, store.path, mine=dev)
                    claim = self._hold(dev, store.fd)
                except BaseException:
                    # Not kept yet, so ``close`` below would not close it: its descriptor,
                    # and the lock on it, would outlive the refusal in the worker, and every
                    # later job on the file would wait for "another swapadmin job".
                    store.close()
                    raise
                self._keep(store)
            self._claim, self._held_device = claim, dev
            try:
                FileBackend.resize(self, new_size_bytes)
            finally:
                self._claim = self._held_device = None
                self.close()
            if dev != self.device:
                # Recorded once the file is changed through it, never by a refusal (233/6,
                # 234/5): the header is written through it next. Lost in a crash before
                # this, it is found again as it was now.
                self.state["device"] = dev
                self.save_state()
            self._tell_new_size(claim, dev)
        finally:
            if claim is not None:
                os.close(claim)

    def _tell_new_size(self, claim: int, dev: str) -> None:
        """LOOP_SET_CAPACITY through our claim on the device, once nothing else reaches the
        file through it: a loop device attached over it meanwhile is still another name
        for the bytes (227/1), which the claim does not keep out."""
        # The claim keeps out a swapon of the device itself; asked all the same (226/9).
        active = store_mod.active_path(claim)
        if active is not None:
            raise ActiveAreaError(
                f"{active} was swapped on while its file was resized, so its size is not "
                "changed under it; deactivate it and resize it again"
            )
        _check_nothing_over(claim, dev, doing="tell it the file's new size", probe=False)
        try:
            fcntl.ioctl(claim, LOOP_SET_CAPACITY)
        except OSError as e:
            raise KernelError(
                f"cannot update the size of {dev}: {e.strerror}", errno=e.errno
            ) from e

    def _serving_device(self, backing: int) -> str:
        """The loop device serving the file, which the resize holds (``_hold``) from before
        the file's first change to after the device is told its new size. The recorded
        device, or, as ``_attach`` finds it, the one serving the file when the record was
        lost in a crash or is stale (231/1, 232/5). None serving the file refuses the
        resize before any change: the header is written again through that device after
        the file's change, and a device that proved not to be ours then failed the resize
        after the file was cut, at every try (228/6, 230/1)."""
        recorded = self.device
        if recorded is not None and self._backs(recorded, backing):
            return recorded
        # One it did not attach over the file is said as such, not as "detached" (248/3).
        self._refuse_a_device_another_attached(backing)
        dev = self._find_our_device(backing)
        if dev is None:
            raise self._no_device_refusal(recorded, backing)
        serving = store_mod.loops_serving(os.fstat(backing))
        if len(serving) > 1:
            # No record says which is ours: named as another's, ours might be detached on
            # the words' advice, and theirs then taken for ours (235/7).
            raise NotOursError(
                f"{self.file_path} is attached to {', '.join(serving)}, and no record says "
                "which of them is this backend's, so the resize is refused. Nothing was "
                "written; detach all but one (losetup -d), then resize it"
            )
        return dev

    def _refuse_if_active(self, doing: str) -> None:
        """While a resize holds its device (``_hold``), the device cannot be active (a
        swapon of it gets EBUSY), and its record may not be written yet: only the file is
        asked, and named (235/4). Otherwise as the file kind asks."""
        if self._held_device is None:
            super()._refuse_if_active(doing)
        elif self.file_active():
            # Swapped on by itself, not through this backend's device: no deactivate of
            # this backend turns it off (236/2).
            raise ActiveAreaError(
                f"{self.file_path} is active in /proc/swaps, swapped on by itself, not "
                f"through this backend's loop device; swap it off (swapoff {self.file_path}) "
                f"before you {doing}"
            )

    def _hold(self, dev: str, backing: int) -> int:
        """``dev`` open read-only with O_EXCL, proven on that descriptor to serve the file
        still: while it is held, no one can swap it on, mount it or build a dm or md device
        over it (EBUSY for them). A look made and let go before the write left that window
        open: a swapon in it, and the file was cut under a live area (229/1). Looked at
        first without O_EXCL (``_backs``), after the file's own proof: a device detached
        and attached to another's file in between is claimed for as long as it takes to
        find so, and refused."""
        try:
            # Read-only is claim enough, and LOOP_SET_CAPACITY is root's either way; a
            # descriptor open for writing has udev probe the device again at its close.
            fd = open_loop_node(dev, os.O_RDONLY | os.O_EXCL)
        except KernelError as e:
            if e.errno == errno.EBUSY:
                raise NotOursError(_claimed_words(dev, "resize it")) from e
            raise
        try:
            # Inode and name field, on the descriptor held: the device looked at before was
            # let go, and the same number may serve the file by a person's hand by now
            # (248/2).
            if not self._serves_as_ours(fd, backing):
                raise NotOursError(
                    f"{dev} stopped serving {self.file_path} as this backend's device while "
                    "the resize began, so the resize is refused. Nothing was written; "
                    "activate the backend to attach its file again, then resize it"
                )
        except BaseException:
            os.close(fd)
            raise
        # Held, it stays bound to the file: a detach waits for the last close.
        return fd

    def _no_device_refusal(self, recorded: str | None, backing: int) -> BackendError:
        """Why no loop device serves the file: the recorded one serves another's (which is
        not ours to touch), or nothing (detached, or the machine restarted), or none is
        recorded. Activating attaches the file again."""
        way_out = (
            "Nothing was written; activate the backend to attach its file again (and "
            "deactivate it after, if it should stay off), then resize it"
        )
        want = os.fstat(backing)
        ours = (want.st_dev, want.st_ino)
        if recorded is not None and ask_loop_device(
            recorded, lambda fd: store_mod.loop_backing(fd) not in (None, ours)
        ):
            return NotOursError(
                f"the loop device now at {recorded} is not this backend's: it serves another "
                f"file, not {self.file_path}, so the resize is refused. {way_out}"
            )
        why = (
            f"the one recorded, {recorded}, was detached, or the machine restarted"
            if recorded is not None
            else "none is recorded"
        )
        return BackendError(
            f"no loop device serves {self.file_path} now ({why}), so the resize is "
            f"refused. {way_out}"
        )

    # ---- what the host shows ----

    def io_path(self) -> str:
        return self.swap_path

    def capacity_bytes(self) -> int:
        store = self._store  # once: another thread may replace it meanwhile
        if store is not None and store.path == self.file_path:
            return os.fstat(store.fd).st_size
        if self._attached():
            assert self.device is not None
            return devices.device_size(self.device)
        return FileBackend.capacity_bytes(self)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        dev = self.device
        out["device"] = dev
        out["attached"] = self._attached()
        if out["attached"] and dev is not None:
            sysfs = Path("/sys/block") / Path(dev).name
            with contextlib.suppress(OSError):
                out["direct_io"] = (sysfs / "loop" / "dio").read_text().strip() == "1"
                # Shown (the backend's info), never opened: printable.
                backing = kernel.read_names(sysfs / "loop" / "backing_file").removesuffix("\n")
                out["backing_file"] = kernel.printable(backing)
        return out


LOOP_SET_STATUS64: Final = 0x4C04
LO_FLAGS_AUTOCLEAR: Final = 4
#: Where ``lo_flags`` sits among the fields of struct loop_info64 (``_LOOP_INFO64``).
_LO_FLAGS: Final = 8


#: How the name field of every loop device a swapadmin backend attached begins (``_tag``).
TAG_PREFIX: Final = b"swapadmin:"


class _AnotherBackendsDevice(NotOursError):
    """The recorded device carries another swapadmin backend's name field: that backend's,
    its record copied into this row. The only refusal a destroy's release forgets."""


def _anothers_tag(name: bytes) -> bool:
    """Whether a device's name field is a swapadmin backend's tag: the prefix and a whole
    canonical UUID, which no person's losetup writes (it writes the file's path), unlike a
    mere prefix, which a path given as typed may begin with (251/5)."""
    if not name.startswith(TAG_PREFIX):
        return False
    rest = name[len(TAG_PREFIX) :].decode("ascii", errors="replace")
    try:
        return str(uuid_mod.UUID(rest)) == rest
    except ValueError:
        return False


def _anothers_words(dev: str, name: bytes) -> str:
    """The refusal of a loop device another swapadmin backend attached (its name field):
    never one to swap off or detach by hand on this backend's behalf."""
    return (
        f"the loop device now at {dev} is another swapadmin backend's "
        f"({printable(name.decode(errors='replace'))}), not this one's: this backend neither "
        "writes through it, swaps it on or off, nor detaches it, and its record of that "
        "device is not its own (copied from that backend's row?). Nothing was written."
    )


def _backing_name(dev: str) -> str:
    """The file sysfs says ``dev`` serves, for words only; "a file" when it cannot say."""
    with contextlib.suppress(OSError):
        name = kernel.read_names(Path("/sys/block", Path(dev).name, "loop", "backing_file"))
        return printable(name.removesuffix("\n")) or "a file"
    return "a file"


def _keep_attached(fd: int, dev: str) -> None:
    """Take back the "detach at last close" mark a LOOP_CLR_FD left on a device another
    process holds open (LOOP_SET_STATUS64 with the status as it is, that flag cleared)."""
    try:
        raw = fcntl.ioctl(fd, store_mod.LOOP_GET_STATUS64, bytes(_LOOP_INFO64.size))
        fields = list(_LOOP_INFO64.unpack(raw))
        fields[_LO_FLAGS] &= ~LO_FLAGS_AUTOCLEAR
        fcntl.ioctl(fd, LOOP_SET_STATUS64, _LOOP_INFO64.pack(*fields))
    except OSError as e:
        raise KernelError(
            f"{dev} is held open by another process and is marked to detach when it closes "
            f"it (or at once, if that process has closed it since); that mark could not be "
            f"taken back ({e.strerror}): activate the backend only once it is detached",
            errno=e.errno,
        ) from e


def _file_gone(e: BackendError) -> bool:
    """``_open_file`` found no file there (or no directory on its way): it raises while it
    handles that FileNotFoundError, which stays the error's context."""
    return isinstance(e.__context__, FileNotFoundError)


def _get_free_loop() -> int:
    try:
        fd = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        raise KernelError(
            f"cannot open /dev/loop-control: {e.strerror} (is the loop module loaded?)",
            errno=e.errno,
        ) from e
    try:
        return fcntl.ioctl(fd, LOOP_CTL_GET_FREE)
    except OSError as e:
        raise KernelError(f"no free loop device: {e.strerror}", errno=e.errno) from e
    finally:
        os.close(fd)


def open_loop_node(dev: str, flags: int) -> int:
    """``dev`` opened with ``flags`` only once it proves to be a loop device (a block
    device of major 7); see ``devices.open_block_node``."""
    return devices.open_block_node(dev, flags, major=store_mod.LOOP_MAJOR, kind="loop")


def ask_loop_device(dev: str, ask: Callable[[int], bool]) -> bool:
    """``ask`` of loop device ``dev``, opened read-only. False when ``dev`` is no loop device
    now (a FIFO, another kind's block device: NotOursError, from ``ask`` too) or is gone (no
    node: ENOENT; removed: ENXIO). Any other failure to ask it (EACCES from a device cgroup,
    EMFILE, EIO) is raised as KernelError: read as "not ours", a device that may be swapping
    on the file would be forgotten undetached."""
    try:
        with _opened_device(dev, os.O_RDONLY) as fd:
            return ask(fd)
    except NotOursError:
        return False
    except KernelError as e:
        if presence.says_absent(e.errno):
            return False
        raise


def _over_our_device(dev: str, file_st: os.stat_result, *, claim: int | None) -> None:
    """``_check_nothing_over`` the loop device ``dev`` when it serves the file ``file_st``
    describes; nothing when ``dev`` is gone or is no loop device serving it now. With
    ``claim``, our own O_EXCL descriptor on it (a resize's), held: no one else can claim it
    meanwhile, and our own claim must not read as another's."""
    if claim is not None:
        _check_nothing_over(claim, dev, probe=False)
        return
    try:
        # Looked at through O_PATH first: a character device put at the recorded name is
        # never opened for real (``open_loop_node``).
        fd = open_loop_node(dev, os.O_RDONLY | os.O_NONBLOCK)
    except NotOursError:
        return  # no loop device by that name now
    except KernelError as e:
        if presence.says_absent(e.errno):
            return
        raise
    try:
        if store_mod.loop_backing(fd) != (file_st.st_dev, file_st.st_ino):
            return
        _check_nothing_over(fd, dev)
    finally:
        os.close(fd)


def _check_nothing_over(fd: int, dev: str, *, doing: str = "write it", probe: bool = True) -> None:
    """Raise NotOursError when anything but this backend reaches the file's bytes through
    our loop device, open as ``fd`` and named ``dev``: a loop device attached over it
    (227/1), or (with ``probe``) a claim on it (a swapon or a mount of it, a dm or md
    device built over it, another's O_EXCL open), which an open of it with O_EXCL finds as
    EBUSY (228/2). Anyone may swap on or mount what they reach. ``doing`` is what is
    refused."""
    st = os.fstat(fd)
    found = store_mod.loops_over_disk(st)
    if found:
        raise NotOursError(
            f"{dev}, this backend's loop device, has {store_mod.attached_over(st, found)}: "
            "the file's bytes can be swapped on or mounted through that name, so swapadmin "
            f"will not {doing}. Detach it first (losetup -d {next(iter(found))})."
        )
    if not probe:
        return
    # By the path: O_EXCL is a flag of the open. The descriptor's device is checked to be
    # the one the path opens, or the claim looked at would be another's.
    try:
        claimed = open_loop_node(dev, os.O_RDONLY | os.O_NONBLOCK | os.O_EXCL)
    except KernelError as e:
        if e.errno == errno.EBUSY:
            raise NotOursError(_claimed_words(dev, doing)) from e
        raise
    try:
        if os.fstat(claimed).st_rdev != st.st_rdev:
            raise NotOursError(
                f"{dev} names another device than the one looked at, so whether anything "
                f"else holds this backend's loop device cannot be told; swapadmin will not "
                f"{doing}"
            )
    finally:
        os.close(claimed)


def _claimed_words(dev: str, doing: str) -> str:
    try:
        st = os.stat(dev)
        over = devices.holders((os.major(st.st_rdev), os.minor(st.st_rdev)))
    except (OSError, ValueError):
        over = []  # the words name what they can; the refusal stands either way
    who = f"{', '.join(over)} built over it" if over else "swapped on, mounted, or held"
    return (
        f"{dev}, this backend's loop device, is claimed by another ({who}): the file's bytes "
        f"are in use through that name, so swapadmin will not {doing}. Free it first."
    )


@contextlib.contextmanager
def _opened_device(dev: str, flags: int = os.O_RDWR) -> Iterator[int]:
    fd = open_loop_node(dev, flags)
    try:
        yield fd
    finally:
        os.close(fd)
