"""Existing block devices and partitions as swap.

The danger here is the data already on the device, so enabling checks everything the
kernel can tell us about who else uses it (mounts, stacked dm/md devices, an exclusive
opener, the root filesystem) and what is written on it (signatures), and only ``force``
lets an operator overwrite a filesystem they have decided to lose.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from .. import devices, wipefs
from .. import store as store_mod
from ..base import Fact, Parameter, SwapBackend
from ..errors import (
    BackendError,
    BusyError,
    KernelError,
    NotOursError,
    UnsafeError,
    ValidationError,
    printable,
)
from ..policy import Policy, check_block_device_empty, check_block_device_free
from ..store import Store
from ..units import iec


class BlockBackend(SwapBackend):
    """A block device given by path (``/dev/sdb1``, ``/dev/disk/by-id/...``). Its size is its
    own. ``state`` stays empty: the device path is all a later process needs."""

    name: ClassVar[str] = "block"
    label: ClassVar[str] = "Block device"
    description: ClassVar[str] = (
        "An existing disk or partition. Refused when mounted, in use by dm/md, holding /, or "
        "holding a filesystem unless forced."
    )
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            "device",
            "Device",
            required=True,
            max_length=4096,
            help="Path of the block device, e.g. /dev/sdb1 or /dev/disk/by-id/...",
        ),
    )
    takes_size: ClassVar[bool] = False
    persistable: ClassVar[bool] = True
    release_changes_store: ClassVar[bool] = False  # the device is left as it is

    @classmethod
    def fstab_spec(cls, params: Mapping[str, Any], swap_uuid: str | None) -> str | None:
        # By its swap UUID once it has one: a device's name can change between boots.
        return f"UUID={swap_uuid}" if swap_uuid else str(params["device"])

    @classmethod
    def adoption_claim(cls, path: str) -> int:
        return 1 if path.startswith("/dev/") else 0

    @classmethod
    def adopt(
        cls, path: str, policy: Policy, *, active: bool
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"device": path}, {}

    @classmethod
    def facts(
        cls,
        info: Mapping[str, Any],
        params: Mapping[str, Any],
        state: Mapping[str, Any],
        swap_path: str | None,
    ) -> list[Fact]:
        device = str(info.get("device") or params.get("device") or "")
        if info.get("kernel_name"):
            device += f" ({info['kernel_name']}, {info.get('major_minor') or ''})"
        # A fact the worker could not read is "not known", never its empty answer: no
        # signature read is not "swap only", no mount table read is not "not mounted".
        failed = info.get("unreadable")
        failed = failed if isinstance(failed, dict) else {}

        def listed(key: str, empty: str) -> tuple[str, str]:
            if key in failed:
                return "not known", str(failed[key])
            if "device" in failed:
                return "not known", ""  # the device itself could not be named
            if key not in info:
                return "not read yet", ""
            return ", ".join(map(str, info.get(key) or [])) or empty, ""

        held, held_problem = listed("mount_points", "not mounted")
        if info.get("holders"):
            held += " · " + ", ".join(map(str, info["holders"]))
        if "holders" in failed:
            held_problem = "; ".join(filter(None, [held_problem, str(failed["holders"])]))
        signatures, signatures_problem = listed("signatures", "swap only")
        return [
            Fact("Device", device, mono=True, problem=str(failed.get("device", ""))),
            Fact(
                "Capacity",
                iec(info.get("capacity_bytes")),
                problem=str(failed.get("capacity_bytes", "")),
            ),
            Fact("Signatures", signatures, problem=signatures_problem),
            Fact("Mounted / held by", held, problem=held_problem),
        ]

    @classmethod
    def creation_prepares(cls, where: str, size: str) -> str:
        return f"Use the whole device {where}: anything on it is overwritten."

    @classmethod
    def validate_params(cls, params: dict[str, Any], policy: Policy) -> dict[str, Any]:
        params = super().validate_params(params, policy)
        device: str = params["device"]
        if not device.startswith("/dev/"):
            raise ValidationError(f"{device!r} is not a device path under /dev/", field="device")
        if ".." in device.split("/") or os.path.normpath(device) != device:
            raise ValidationError(f"{device!r} is not a normalised path", field="device")
        return params

    @property
    def swap_path(self) -> str:
        # /proc/swaps shows the node the kernel opened, not a /dev/disk/by-* link to it.
        return os.path.realpath(str(self.params["device"]))

    # ---- the open store: identity read from sysfs of the number the descriptor names ----

    def open_store(self, writable: bool) -> Store:
        """The device, opened only once the path proves to name a block device: it is first
        opened with O_PATH (which runs no driver), so a character device such as a watchdog
        is never opened for real; then that very node is opened for I/O. A write refuses a
        mounted device before the exclusive open would merely say busy."""
        path = self.swap_path
        try:
            pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError as e:
            raise ValidationError(f"{path}: {e.strerror}", field="device") from e
        try:
            st = os.fstat(pfd)
            if not stat.S_ISBLK(st.st_mode):
                if self.record.get("key"):
                    # Something else now sits where the backend's device was (a file made
                    # by ``dd of=`` while the disk was missing): not its store, and not
                    # "absent", which offered a provision of it (review 168/3).
                    raise NotOursError(
                        f"{path} is not a block device any more, so not this backend's "
                        "device. Nothing was written."
                    )
                raise ValidationError(f"{path} is not a block device", field="device")
            dev = os.major(st.st_rdev), os.minor(st.st_rdev)
            if writable:
                check_block_device_free(path, dev)
            try:
                fd = os.open(f"/proc/self/fd/{pfd}", self.open_flags(writable))
            except OSError as e:
                if writable and e.errno == errno.EBUSY:
                    raise BusyError(
                        f"{path} is held open exclusively by another user (swap, LVM, RAID or "
                        f"a running tool): {e.strerror}. Find it with: lsof {path}"
                    ) from e
                raise KernelError(f"cannot open {path}: {e.strerror}", errno=e.errno) from e
        finally:
            os.close(pfd)
        try:
            if os.fstat(fd).st_rdev != st.st_rdev:
                raise NotOursError(f"{path} changed while it was being opened; try again")
            ident = store_mod.device_identity(fd)
        except BaseException:
            os.close(fd)
            raise
        return Store(fd, writable, path, ident["key"], tuple(ident["overlaps"]), info=ident)

    def check_identity(self, store: Store) -> None:
        # What a loop device is known to serve says whose store it is, not only who else
        # may reach it: never this backend's, for a swapoff and the read-only looks too
        # (239/6). Only what is known: a backing file that cannot be found again (unlinked,
        # hidden by a mount) or read says nothing of whose it is, and the recorded identity
        # pins the backing's inode already; a write still refuses it (240/3).
        self._check_loop_over_device(store, unknown_refused=False)
        if store.info.get("loop_backing"):
            self._check_backing_file(store, unknown_refused=False)
        recorded = {k: v for k, v in self.record.items() if k not in ("uuid", "key")}
        if not recorded:
            return
        problems = store_mod.identity_problems(recorded, store.info)
        if problems:
            raise NotOursError(
                f"the device now at {store.path} is not this backend's: {'; '.join(problems)}. "
                "Nothing was written."
            )

    def check_exclusive(self, store: Store) -> None:
        """A loop device is only another name for what it serves: a block device (whose
        own checks, mounts first, it would bypass) or a file another backend owns, or one
        that cannot be found again to tell."""
        self._check_loop_over_device(store, unknown_refused=True)
        if store.info.get("loop_backing"):
            self._check_backing_file(store, unknown_refused=True)

    @staticmethod
    def _check_loop_over_device(store: Store, *, unknown_refused: bool) -> None:
        """``unknown_refused``: whether "?" (what the loop device serves cannot be found
        to be told: its file unlinked, renamed or hidden) is refused too."""
        under = store.info.get("loop_over_device")
        if under == "?" and unknown_refused:
            raise NotOursError(
                f"{store.path} is a loop device whose backing cannot be found again (its file "
                "unlinked, renamed or hidden by a mount), so what it serves cannot be told: "
                "swapadmin will not write it or swap it on"
            )
        if under and under != "?":
            raise NotOursError(
                f"{store.path} is a loop device over the block device {under}: swapadmin does "
                "not write a device through another name; use that device itself"
            )

    def _check_backing_file(self, store: Store, *, unknown_refused: bool) -> None:
        from .file import read_mark

        try:
            fd = store_mod.open_loop_backing(store.fd)
        except (BackendError, OSError):
            if unknown_refused:
                raise
            return  # not found or read: says nothing of whose it is
        if fd is None:
            if not unknown_refused:
                return
            raise NotOursError(
                f"{store.path} is a loop device whose backing file cannot be found again; "
                "swapadmin will not write to what it serves"
            )
        try:
            mark = read_mark(fd)
        except (BackendError, OSError):
            if unknown_refused:
                raise
            return  # not read: says nothing of whose it is (241/1)
        finally:
            os.close(fd)
        if mark is not None and mark.owner and mark.owner != self.owner:
            raise NotOursError(
                f"{store.path} serves the swap file of swapadmin backend {mark.owner}: one "
                "store serves one backend. Nothing was written."
            )

    def has_identity(self) -> bool:
        return "size_sectors" in self.record and "devnum" in self.record

    def identity(self, store: Store) -> dict[str, Any]:
        keep = {k: v for k, v in store.info.items() if k != "name"}
        return {**keep, "key": store.key}

    # ---- enable / disable ----

    def swapfile(self, enable: bool) -> None:
        """On True, in a provision: the device may become swap (``check_block_device_*``: not
        mounted, held, the root's, nor holding data unless forced; a swap area is fine) and
        is taken, its identity recorded and, when an earlier attempt recorded one, compared:
        force applies to the device it was given for, not to whatever the path names now.
        Outside a provision: the device proves to be this backend's formatted area.
        Changes nothing either way."""
        if not enable:
            return
        if not self.provisioning:
            self.verify()
            return
        from .. import kernel

        # An area already active (someone's swap, taken over) cannot be opened exclusively;
        # it is only ever read until it is deactivated.
        active = self.is_active()
        store = self.open_store(writable=not active)
        try:
            if self.record:
                self.check_identity(store)
            else:
                # Recorded before any refusal, so that a forced retry is bound to this device.
                self.update_record(**self.identity(store), uuid=None)
            st = os.fstat(store.fd)
            dev = os.major(st.st_rdev), os.minor(st.st_rdev)
            check_block_device_free(store.path, dev)
            self.check_alone(store)
            if not self.force:
                found = wipefs.signatures_read_whole(store.fd, store.path)
                check_block_device_empty(store.path, dev, found)
                ours = self._formatted_here(store)
                if self.owner and not ours and any(s.type == "swap" for s in found):
                    # Someone's swap area: formatting it again changes its UUID, which the
                    # system using it (an fstab, a resume= parameter) may name.
                    raise UnsafeError(
                        f"{store.path} holds a swap area that swapadmin did not make: "
                        "provisioning formats it again (a new UUID). Adopt it to manage it "
                        "as it is, or confirm with force."
                    )
            if active and store_mod.active_path(store.fd) is None and kernel.is_active(store.path):
                raise NotOursError(f"{store.path} changed while it was being checked")
            self.take_store(store)
        except BaseException:
            store.close()
            raise

    def capacity_bytes(self) -> int:
        store = self._store  # once: another thread may replace it meanwhile
        if store is not None:
            return devices.device_size_fd(store.fd, store.path)
        devices.block_devnum(self.swap_path)  # a block device, or refused before any open
        return devices.device_size(self.swap_path)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        path = self.swap_path
        out["device"] = path
        # Each fact on its own: one that cannot be read is named with why ("unreadable"),
        # and the others are still shown, rather than all left out as if nothing were there.
        unreadable: dict[str, str] = {}
        try:
            dev = devices.block_devnum(path)
        except (BackendError, OSError) as e:
            unreadable["device"] = str(e)
            out["unreadable"] = unreadable
            return out
        out["major_minor"] = f"{dev[0]}:{dev[1]}"
        facts: dict[str, Callable[[], Any]] = {
            "kernel_name": lambda: devices.kernel_name(dev),
            "capacity_bytes": lambda: devices.device_size(path),
            "mount_points": lambda: [printable(m) for m in devices.mount_points(dev)],
            "holders": lambda: devices.holders(dev),
            "signatures": lambda: [s.type for s in wipefs.signatures(path)],
        }
        for key, read in facts.items():
            try:
                out[key] = read()
            except (BackendError, OSError) as e:
                unreadable[key] = str(e)
        if unreadable:
            out["unreadable"] = unreadable
        return out
