"""The one error family for everything below Django.

Every message is written for the sysadmin who will read it in a job log: it says what is
wrong and, where there is one, what to do about it. ``retryable`` tells the job layer
whether trying the same thing again later can succeed (a busy device) or not (a path
outside the swap roots).
"""

from __future__ import annotations

import contextlib
import errno as errno_codes
from collections.abc import Iterator


def printable(text: str) -> str:
    """``text`` as text that a page, a JSON document and a database can all hold: a name's
    byte that is not UTF-8 (decoded as the os module decodes names, a lone surrogate) shows
    as ``\\xNN``, any other lone surrogate as ``\\udNNN``, and a NUL as ``\\x00``
    (PostgreSQL keeps none in text, so a log line or an error holding one failed its row's
    write: review 176/4; no path the kernel names holds one). For showing, never for opening:
    text a row can hold comes back unchanged, so ``printable(t) != t`` says it could not."""
    try:
        # UTF-8 whatever the worker's locale: names here are decoded as UTF-8 with
        # surrogateescape (os.fsdecode under the UTF-8 locale every worker runs with).
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no name decodes to
        shown = text.encode("utf-8", "backslashreplace").decode("utf-8")
    else:
        shown = raw.decode("utf-8", "backslashreplace")
    return shown.replace("\x00", "\\x00")


class BackendError(Exception):
    """A backend operation failed; the message is for humans, the flags for the job layer."""

    retryable: bool = False
    #: Raised before anything of the store was changed (``before_any_change``), or once all
    #: that was changed was undone: a job that swapped the area off to change it swaps it
    #: on again, through activate's proof.
    store_unchanged: bool = False
    #: Raised inside ``before_any_change``, marked or not: what a job says of it (another
    #: writer holds the store, the store is gone) may trust that nothing was changed first.
    before_change: bool = False

    def __init__(
        self, message: str, *, retryable: bool | None = None, field: str | None = None
    ) -> None:
        self.message = message
        super().__init__(self.message)
        if retryable is not None:
            self.retryable = retryable
        # The parameter the error is about, so forms and the API can show it beside the field.
        self.field = field

    @property
    def message(self) -> str:
        """The words, printable: messages name paths, mount points and devices, whose names
        may not be UTF-8, and a third party's may hold a NUL, so no job log, error or row
        fails to hold one. Made so however they are set: a third party's subclass may set
        them after ``__init__``, or never call it (review 179/1). A subclass that gives
        ``message`` a default of its own hides this; what keeps an exception's words says
        them through ``printable`` all the same (``observe.said``)."""
        said = self.__dict__.get("_message")
        if said is None:
            try:
                said = printable(str(self.args[0])) if self.args else ""
            except Exception:  # words that raise: the class names it
                said = ""
        return said or type(self).__name__

    @message.setter
    def message(self, value: str) -> None:
        self.__dict__["_message"] = printable(value if isinstance(value, str) else str(value))

    def __str__(self) -> str:
        return self.message


class PluginError(BackendError):
    """A plugin answered other than its contract allows (a third party's bug): said where the
    answer was wanted, never taken as a figure."""


class ValidationError(BackendError):
    """Bad input: a parameter that can never work as given. Nothing was changed."""


class UnsafeError(BackendError):
    """The safety policy refuses: doing this could destroy data or take down the host."""


class NoRoomError(UnsafeError):
    """The filesystem has not the room asked for with the reserve kept. Raised before
    anything of the store was changed, or once what was taken was given back: a resize
    refused so leaves the area as it was, and a job that swapped it off for the resize
    swaps it on again (a kind of a third party promises the same when it raises it)."""

    store_unchanged = True


class UnsafeDirectoryError(UnsafeError):
    """A directory on the way to a swap file is one others could change (not root's, or
    writable by others), or one where a filesystem should be mounted and is not: refused,
    but it says nothing of which file the name leads to, so it is never taken for "not
    this backend's store"."""


class NotMountedError(UnsafeDirectoryError):
    """A directory on the way is where the machine's fstab mounts a filesystem, and nothing
    is mounted there: a file made beneath would be hidden once it is, and a file not found
    there may well be on it (review 168/8)."""


class NotOursError(UnsafeError):
    """The store at the backend's path is not the one this backend made or was given: its
    mark, identity or swap UUID is not the recorded one. Nothing was written."""


class UnprovenDeviceError(NotOursError):
    """A device at the place the record names that may well be this backend's, but does not
    carry its proof (a loop device with no name field of the backend's: a person's losetup,
    or one a swapadmin from before the name field attached). Not written, swapped or
    detached as its own, as any NotOursError; but, unlike one, never a reason for a destroy
    to forget the backend while its area is on: whose the area is cannot be told (248/5).
    The observer shows it as any NotOursError (foreign: a person's device is the likelier,
    and its words say both), so only a look after the way out clears it (250/8)."""


class UnprovenAreaError(UnsafeError):
    """The backend's own device (its proof: a loop device's name field) is swapped on, but
    over a file that does not prove the area this backend's (unlinked, replaced, or its mark
    another's): no job can swap it off, and no destroy may forget it while on (248/6). Not a
    NotOursError: the area is this backend's as far as its device says."""


class ActiveAreaError(UnsafeError):
    """The area is active in /proc/swaps: its pages hold live process memory."""


class OpenedMeanwhileError(UnsafeError):
    """Something else opened the file while swapadmin wrote it (its write lease broke):
    swapadmin stopped, and its last writes landed before that open returned unless the
    message says the kernel's lease-break-time ran out first."""


class NoDeviceError(BackendError):
    """The area has no device now (a loop device not attached, a zram device not added or
    recorded during another boot): its kind has no path to name, so nothing of it can be
    active. ``swap_path`` raises it for that alone; any other error there means the path
    could not be read, which says nothing of whether the area is on."""


class BusyError(BackendError):
    """Something else holds the resource right now; the same request may succeed later."""

    retryable = True


class KernelError(BackendError):
    """A system call failed; ``errno`` is kept for callers that branch on it."""

    #: None until ``__init__`` sets it: a third party's subclass that never calls it still
    #: has one to read (review 225/4).
    errno: int | None = None

    def __init__(
        self,
        message: str,
        *,
        errno: int | None = None,
        retryable: bool | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable, field=field)
        self.errno = errno


class HeaderError(BackendError):
    """Page 0 is not a swap header we can read (no SWAPSPACE2 magic, or inconsistent)."""


@contextlib.contextmanager
def before_any_change() -> Iterator[None]:
    """Around a kind's checks before it changes a store (a resize's refusals: an area
    swapped on meanwhile, a store not proven its own, a size refused): a BackendError
    raised inside is marked ``store_unchanged``, so that a job which swapped the area off
    for the change swaps it on again rather than leaving it off behind a refusal (reviews
    211/2, 214/5). Only for code that changes nothing: a mark on an error raised after a
    change would have the area swapped on over a store it no longer fits. A kind that
    changes anything before it calls a base class's resize clears the marks on what comes
    up from it (``e.store_unchanged = e.before_change = False``). Never ``store_unchanged``
    for a ``BusyError`` (another writer at work) nor a ``NoDeviceError`` (the store gone):
    neither is a store to swap on again (review 219/1-2). Every error raised inside is
    marked ``before_change``. An ``OSError`` raised inside is raised as the kernel's
    refusal (a ``KernelError`` with its errno, marked). One that says "busy" (EAGAIN,
    EWOULDBLOCK, EBUSY: ``held_by_another``), bare or wrapped in a ``KernelError``, is
    never ``store_unchanged``, as a ``BusyError`` is not: it may be another holding the
    store's lock or device, though not always (a fork the kernel refused for now says
    EAGAIN too), so it is kept as the kernel's error, not said as another writer's
    (review 224/4).

    The kernel's "no such file or device" (a ``KernelError`` with ENOENT) is marked like
    any other refusal: it may be about something else on the way (another loop device's
    node, a third party's helper), and a store that is gone fails the swapon again's proof
    all the same (review 221/1)."""
    try:
        yield
    except BackendError as e:
        _mark(e)
        raise
    except OSError as e:
        # A call on the way (a sysfs read) that failed: the kernel's words, as a refusal
        # made before any change, not as one that may have changed the store (222/6); a
        # lock or a device another may hold (EAGAIN, EBUSY) never "unchanged" (223/1),
        # and worth a later try.
        busy = e.errno in BUSY_ERRNOS
        error = KernelError(_os_words(e), errno=e.errno, retryable=True if busy else None)
        _mark(error)
        raise error from e


#: The kernel's "busy": a lock taken (EAGAIN, EWOULDBLOCK), a device in use (EBUSY); a
#: later try may find it free.
BUSY_ERRNOS = frozenset({errno_codes.EAGAIN, errno_codes.EWOULDBLOCK, errno_codes.EBUSY})


def held_by_another(error: BaseException) -> bool:
    """Whether ``error`` says the store, or its lock, may be another's right now: a
    ``BusyError`` (a kind's own word: another writer holds it), or the kernel's EAGAIN,
    EWOULDBLOCK or EBUSY as a ``KernelError`` (a kind's wrapped call, or an ``OSError``
    that ``before_any_change`` converted), which may also be the kernel short of
    something for now. Neither is a store to swap on again under another's hands."""
    if isinstance(error, BusyError):
        return True
    if not isinstance(error, KernelError):
        return False
    try:  # a third party's errno may be anything: a list, a property that raises (225/4)
        return getattr(error, "errno", None) in BUSY_ERRNOS
    except Exception:
        return False


# What an error carries, read from a third party's exception as well as ours: its
# attributes may be anything, a list or a property that raises (225/4, 233/5).


def errno_of(error: BaseException) -> int | None:
    """``error``'s errno when it is a number, else None."""
    try:
        code = getattr(error, "errno", None)
    except Exception:
        return None
    return code if isinstance(code, int) else None


def field_of(error: BaseException) -> str | None:
    """The parameter a BackendError is about, as forms show it; None for any other error,
    or a field that is no text or cannot be read."""
    try:
        field = getattr(error, "field", None) if isinstance(error, BackendError) else None
    except Exception:
        return None
    return field if isinstance(field, str) else None


def is_retryable(error: BaseException) -> bool:
    """Whether ``error`` says a later try may succeed: only a ``retryable`` that is True."""
    try:
        return getattr(error, "retryable", False) is True
    except Exception:
        return False


def _os_words(e: OSError) -> str:
    """What a failed call says, typed (its words alone rarely say what failed), from its
    fields only: a third party's ``__str__`` may raise."""
    words = e.strerror if isinstance(e.strerror, str) else ""
    if not words:
        words = next((a for a in e.args if isinstance(a, str)), "")
    where = f": {e.filename}" if isinstance(e.filename, str) else ""
    return printable(f"{type(e).__name__}: {words or 'failed'}{where}")


def _mark(e: BackendError) -> None:
    """``before_any_change``'s marks; a third party's class that will not take them (a
    property, slots) keeps its own, and its refusal is raised as it is (222/7)."""
    with contextlib.suppress(AttributeError):
        e.before_change = True
        if not (held_by_another(e) or isinstance(e, NoDeviceError)):
            e.store_unchanged = True
