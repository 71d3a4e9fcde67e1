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
import os

import pytest

from backends import (
    BackendError,
    BusyError,
    KernelError,
    NoRoomError,
    UnsafeError,
    before_any_change,
)
from backends.errors import NoDeviceError, held_by_another


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


def test_an_os_error_inside_is_said_as_the_kernels_and_marked() -> None:
    """A read on the way that failed (a sysfs file) changed nothing (review 222/6)."""
    with pytest.raises(KernelError) as raised, before_any_change():
        raise OSError(errno.EIO, "Input/output error", "/sys/block/zram9/disksize")
    assert raised.value.errno == errno.EIO
    assert raised.value.message == "OSError: Input/output error: /sys/block/zram9/disksize"
    assert raised.value.store_unchanged and raised.value.before_change


def test_an_os_error_with_no_errno_is_said_by_its_words() -> None:
    with pytest.raises(KernelError) as raised, before_any_change():
        raise OSError("the helper said no")
    assert raised.value.message == "OSError: the helper said no"
    assert raised.value.errno is None and raised.value.store_unchanged


@pytest.mark.parametrize("code", [errno.EAGAIN, errno.EBUSY])
def test_the_kernels_busy_is_kept_as_its_error_and_never_unchanged(code: int) -> None:
    """A lock or a device another may hold: never swapped on again under it (223/1). Kept
    as the kernel's error, not a BusyError (another writer's), since a fork refused for now
    says EAGAIN too (review 224/4); worth a later try."""
    with pytest.raises(KernelError) as raised, before_any_change():
        raise BlockingIOError(code, os.strerror(code))
    assert type(raised.value) is KernelError and raised.value.errno == code
    assert not raised.value.store_unchanged and raised.value.before_change
    assert raised.value.retryable and held_by_another(raised.value)


@pytest.mark.parametrize("code", [errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY])
def test_a_kinds_wrapped_busy_is_never_unchanged(code: int) -> None:
    """A kind that wrapped the kernel's EBUSY in its own KernelError (zram's reset of a
    device someone holds open) was marked unchanged before (review 224/4)."""
    with pytest.raises(KernelError) as raised, before_any_change():
        raise KernelError("writing 1 to /sys/block/zram9/reset failed", errno=code)
    assert not raised.value.store_unchanged and raised.value.before_change


class _Unmarkable(BackendError):
    """A third party's class whose marks are read-only."""

    @property
    def store_unchanged(self) -> bool:  # type: ignore[override]
        return False

    @property
    def before_change(self) -> bool:  # type: ignore[override]
        return False


def test_a_class_that_takes_no_mark_is_raised_as_it_is() -> None:
    """Before, the AttributeError of the mark replaced the kind's refusal (review 222/7)."""
    with pytest.raises(_Unmarkable, match="refused by a third party"), before_any_change():
        raise _Unmarkable("refused by a third party")


class _NoInit(KernelError):
    """A third party's KernelError that never calls ``KernelError.__init__``."""

    def __init__(self, message: str) -> None:
        BackendError.__init__(self, message)


def _list_errno() -> KernelError:
    error = KernelError("refused")
    error.errno = [errno.EBUSY]  # type: ignore[assignment]
    return error


@pytest.mark.parametrize("error", [_NoInit("refused"), _list_errno()])
def test_a_kernel_error_with_no_errno_of_its_own_is_marked_as_any_refusal(
    error: KernelError,
) -> None:
    """Before, the missing errno was an AttributeError swallowed by the mark, and the
    job's words then failed on it; an errno no set holds replaced the refusal (225/4)."""
    assert not held_by_another(error)
    with pytest.raises(KernelError) as raised, before_any_change():
        raise error
    assert raised.value is error
    assert error.store_unchanged and error.before_change
