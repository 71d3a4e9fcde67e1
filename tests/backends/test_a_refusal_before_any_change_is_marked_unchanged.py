"""``before_any_change()`` marks a kind's refusal as leaving its store unchanged, so that a
resize job that swapped the area off swaps it on again. Never a BusyError (another writer
holds the store: swapping on again would put a header under its writes) nor a
NoDeviceError (the store is gone: nothing to put back), review 219/1-2; never an error
raised outside the block. The kernel's "no such file or device" is marked like any other
refusal: it may be about something else on the way, and a store gone fails the swapon
again's proof (review 221/1). Every error raised inside is marked ``before_change``, so
that what a job says of a busy or gone store may trust nothing was changed first."""

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
        KernelError("cannot open another loop device: No such file", errno=errno.ENOENT),
        KernelError("no errno"),
    ],
)
def test_a_refusal_inside_is_marked(error: BackendError) -> None:
    with pytest.raises(BackendError) as raised, before_any_change():
        raise error
    assert raised.value.store_unchanged and raised.value.before_change


@pytest.mark.parametrize("error", [BusyError("being written"), NoDeviceError("gone")])
def test_a_busy_store_or_a_gone_one_is_never_marked_unchanged(error: BackendError) -> None:
    with pytest.raises(BackendError) as raised, before_any_change():
        raise error
    assert not raised.value.store_unchanged
    assert raised.value.before_change


def test_outside_the_block_only_no_room_says_unchanged() -> None:
    assert not BackendError("after a change").store_unchanged
    assert not BackendError("after a change").before_change
    assert NoRoomError("no room").store_unchanged
