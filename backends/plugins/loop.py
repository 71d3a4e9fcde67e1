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
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Final

from .. import devices
from ..base import PAGE_SIZE
from ..errors import ActiveAreaError, BackendError, BusyError, KernelError
from .file import FileBackend

LOOP_CTL_GET_FREE: Final = 0x4C82
LOOP_CONFIGURE: Final = 0x4C0A
LOOP_CLR_FD: Final = 0x4C01
LOOP_SET_CAPACITY: Final = 0x4C07
LOOP_GET_STATUS64: Final = 0x4C05
LO_FLAGS_DIRECT_IO: Final = 16
LO_NAME_SIZE: Final = 64

# struct loop_info64 (include/uapi/linux/loop.h): device, inode, rdevice, offset, sizelimit,
# number, encrypt_type, encrypt_key_size, flags, file_name, crypt_name, encrypt_key, init.
_LOOP_INFO64 = struct.Struct("=QQQQQIIII64s64s32s2Q")
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

    @property
    def device(self) -> str | None:
        dev = self.state.get("device")
        return str(dev) if dev else None

    @property
    def swap_path(self) -> str:
        if self.device is None:
            raise BackendError(f"{self.file_path} is not attached to a loop device; enable it")
        return self.device

    # ---- enable / disable ----

    def swapfile(self, enable: bool) -> None:
        """On True: the file is provisioned and verified as the file kind does, and attached
        to exactly one loop device, recorded in ``state``; a device already backed by our
        file is reused. On False: the device is detached and forgotten, unless active."""
        if enable:
            self.provision_file()
            self._attach()
        else:
            self._detach()

    def _attach(self) -> None:
        dev = self.device if self.device and self._backs_our_file(self.device) else None
        # After a crash between attaching and storing state, the device is found again.
        dev = dev or self._find_our_device()
        if dev is None:
            dev = self._configure_free_device()
        self.state["device"] = dev

    def _detach(self) -> None:
        dev = self.device
        if dev is None:
            return
        if not self._backs_our_file(dev):
            # Detached already, perhaps reused since by someone else: not ours to touch.
            self.state.pop("device", None)
            return
        if self.is_active():
            raise ActiveAreaError(
                f"{dev} is active in /proc/swaps; deactivate it before detaching the loop device"
            )
        with _opened_device(dev) as fd:
            try:
                fcntl.ioctl(fd, LOOP_CLR_FD)
            except OSError as e:
                if e.errno != errno.ENXIO:  # ENXIO: nothing attached any more
                    raise KernelError(f"cannot detach {dev}: {e.strerror}", errno=e.errno) from e
        self.state.pop("device", None)

    def _configure_free_device(self) -> str:
        for _ in range(_ATTACH_ATTEMPTS):
            number = _get_free_loop()
            dev = f"/dev/loop{number}"
            try:
                self._configure(dev)
            except BusyError:
                continue  # another process took it between GET_FREE and CONFIGURE
            return dev
        raise BusyError(
            f"no free loop device could be taken after {_ATTACH_ATTEMPTS} attempts "
            "(others are attaching at the same time); try again"
        )

    def _configure(self, dev: str) -> None:
        path = self.file_path
        name = os.fsencode(path)[: LO_NAME_SIZE - 1]
        info = _LOOP_INFO64.pack(0, 0, 0, 0, 0, 0, 0, 0, LO_FLAGS_DIRECT_IO, name, b"", b"", 0, 0)
        backing = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            with _opened_device(dev) as fd:
                config = _LOOP_CONFIG.pack(backing, PAGE_SIZE, info)
                try:
                    fcntl.ioctl(fd, LOOP_CONFIGURE, config)
                except OSError as e:
                    if e.errno == errno.EBUSY:
                        raise BusyError(f"{dev} was taken by another process") from e
                    raise KernelError(
                        f"cannot attach {path} to {dev}: {e.strerror}", errno=e.errno
                    ) from e
        finally:
            os.close(backing)

    # ---- which loop device is ours ----

    def _backs_our_file(self, dev: str) -> bool:
        """True when ``dev`` is a loop device attached to this very file (same inode)."""
        try:
            want = os.stat(self.file_path)
            with _opened_device(dev, os.O_RDONLY) as fd:
                raw = fcntl.ioctl(fd, LOOP_GET_STATUS64, bytes(_LOOP_INFO64.size))
        except (OSError, BackendError):
            return False
        device, inode = _LOOP_INFO64.unpack(raw)[:2]
        return (device, inode) == (want.st_dev, want.st_ino)

    def _find_our_device(self) -> str | None:
        # sysfs names the backing file, so only devices that name ours are opened to confirm.
        for backing in sorted(Path("/sys/block").glob("loop*/loop/backing_file")):
            with contextlib.suppress(OSError):
                if backing.read_text().strip() != self.file_path:
                    continue
                dev = "/dev/" + backing.parent.parent.name
                if self._backs_our_file(dev):
                    return dev
        return None

    # ---- the file's life beyond enable ----

    def remove(self) -> bool:
        """Delete the file as the file kind does; refuses while a loop device still holds it."""
        if self.device is not None and self._backs_our_file(self.device):
            raise ActiveAreaError(
                f"{self.file_path} is still attached to {self.device}; disable it first"
            )
        return super().remove()

    def resize(self, new_size_bytes: int) -> None:
        """Resize the inactive file and, when attached, tell the loop device its new size."""
        super().resize(new_size_bytes)
        dev = self.device
        if dev is not None and self._backs_our_file(dev):
            with _opened_device(dev) as fd:
                try:
                    fcntl.ioctl(fd, LOOP_SET_CAPACITY)
                except OSError as e:
                    raise KernelError(
                        f"cannot update the size of {dev}: {e.strerror}", errno=e.errno
                    ) from e

    # ---- what the host shows ----

    def io_path(self) -> str:
        return self.swap_path

    def capacity_bytes(self) -> int:
        if self.device is not None and self._backs_our_file(self.device):
            return devices.device_size(self.device)
        return super().capacity_bytes()

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        dev = self.device
        out["device"] = dev
        out["attached"] = dev is not None and self._backs_our_file(dev)
        if out["attached"] and dev is not None:
            sysfs = Path("/sys/block") / Path(dev).name
            with contextlib.suppress(OSError):
                out["direct_io"] = (sysfs / "loop" / "dio").read_text().strip() == "1"
                out["backing_file"] = (sysfs / "loop" / "backing_file").read_text().strip()
        return out


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


@contextlib.contextmanager
def _opened_device(dev: str, flags: int = os.O_RDWR) -> Iterator[int]:
    try:
        fd = os.open(dev, flags | os.O_CLOEXEC)
    except OSError as e:
        raise KernelError(f"cannot open {dev}: {e.strerror}", errno=e.errno) from e
    try:
        yield fd
    finally:
        os.close(fd)
