"""``before_any_change()`` marks a kind's refusal as leaving its store unchanged, so that a
resize job that swapped the area off swaps it on again. Never a BusyError (another writer
holds the store: swapping on again would put a header under its writes) nor a
NoDeviceError or the kernel's "no such file or device" on the way to it (the store is
gone: nothing to put back), reviews 219/1-2 and 220/2; never an error raised outside the
block."""

from __future__ import annotations

import errno

import pytest

from backends import (
    BackendError,
    BusyError,
    KernelError,
    NoRoomError,
    UnsafeError,
    before_any_change,
)
from backends.errors import NoDeviceError


@pytest.mark.parametrize(
    "error",
    [
        BackendError("refused"),
        UnsafeError("not ours"),
        KernelError("cannot read it: Input/output error", errno=errno.EIO),
        KernelError("no errno"),
    ],
)
def test_a_refusal_inside_is_marked(error: BackendError) -> None:
    with pytest.raises(BackendError) as raised, before_any_change():
        raise error
    assert raised.value.store_unchanged


@pytest.mark.parametrize(
    "error",
    [
        BusyError("being written"),
        NoDeviceError("gone"),
        *(KernelError(f"cannot open it: {code}", errno=code) for code in (
            errno.ENOENT, errno.ENODEV, errno.ENXIO,
        )),
    ],
)  # fmt: skip
def test_a_busy_store_or_a_gone_one_is_never_marked(error: BackendError) -> None:
    with pytest.raises(BackendError) as raised, before_any_change():
        raise error
    assert not raised.value.store_unchanged


def test_outside_the_block_only_no_room_says_unchanged() -> None:
    assert not BackendError("after a change").store_unchanged
    assert NoRoomError("no room").store_unchanged
