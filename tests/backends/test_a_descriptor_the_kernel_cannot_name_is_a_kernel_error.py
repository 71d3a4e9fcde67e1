"""Which device a descriptor names is read from the descriptor (fstat) and sysfs. When the
kernel cannot say, because the descriptor is not open any more, or not a block device, the
answer is the library's KernelError, with the errno kept, never a raw OSError that a
handler would not know to report as the store's fault."""

from __future__ import annotations

import errno
import os

import pytest

from backends import store
from backends.errors import KernelError


def test_a_closed_descriptor_is_a_kernel_error_with_its_errno() -> None:
    fd = os.open("/dev/null", os.O_RDONLY)
    os.close(fd)
    with pytest.raises(KernelError) as raised:
        store.device_identity(fd)
    assert raised.value.errno == errno.EBADF
    assert "cannot tell which block device is open" in str(raised.value)


def test_a_descriptor_of_no_block_device_is_refused_by_name() -> None:
    fd = os.open("/dev/null", os.O_RDONLY)
    try:
        with pytest.raises(KernelError, match="not a block device"):
            store.device_identity(fd)
    finally:
        os.close(fd)
