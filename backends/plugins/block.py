"""Existing block devices and partitions as swap.

The danger here is the data already on the device, so enabling checks everything the
kernel can tell us about who else uses it (mounts, stacked dm/md devices, an exclusive
opener, the root filesystem) and what is written on it (signatures), and only ``force``
lets an operator overwrite a filesystem they have decided to lose.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, ClassVar

from .. import devices
from ..base import Parameter, SwapBackend
from ..errors import BackendError, BusyError, ValidationError
from ..policy import Policy, check_block_device


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

    def swapfile(self, enable: bool) -> None:
        """On True: raises unless the device may be swap (see ``check_block_device``); an
        area already active is accepted as it is. Changes nothing either way."""
        if not enable:
            return
        path = self.swap_path
        check_block_device(path, force=self.force)
        if not self.is_active():
            self._check_not_held(path)

    @staticmethod
    def _check_not_held(path: str) -> None:
        """An exclusive open fails while anything (a mount in another namespace, a running
        mkfs, LVM) holds the device: the kernel's own answer to 'is anyone using it?'."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_EXCL | os.O_CLOEXEC)
        except OSError as e:
            raise BusyError(
                f"{path} is held open exclusively by another user (a mount, LVM, RAID or a "
                f"running tool): {e.strerror}. Find it with: lsof {path}; fuser -vm {path}"
            ) from e
        os.close(fd)

    def capacity_bytes(self) -> int:
        return devices.device_size(self.swap_path)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        path = self.swap_path
        out["device"] = path
        with contextlib.suppress(BackendError, OSError):
            dev = devices.block_devnum(path)
            out.update(
                kernel_name=devices.kernel_name(dev),
                major_minor=f"{dev[0]}:{dev[1]}",
                capacity_bytes=devices.device_size(path),
                mount_points=devices.mount_points(dev),
                holders=devices.holders(dev),
                signatures=[s.type for s in devices.signatures(path)],
            )
        return out
