"""Whether a store is there: "no such file or device" is the only absence.

A failed look is not an answer. ``os.path.exists`` is False for any stat that fails, so a
store behind a directory the reader may not search (EACCES), on a disk that fails (EIO)
or on a hung mount reads as gone, and a page then offers to provision it again, or a
sample writes "absent" over the observer's "cannot read the store" (reviews 160/1, 161/2,
161/6). Every reader that asks "is it there?" asks here, so they all draw the line at the
same errno.
"""

from __future__ import annotations

import errno
import os
import stat

from .errors import UnsafeError

# "No such file" (ENOENT, or ENOTDIR: a file where a directory of the path should be), and,
# for a device node whose device is gone, the errors of opening it (ENXIO, ENODEV).
ABSENCE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENXIO, errno.ENODEV})


def says_absent(no: int | None) -> bool:
    """Whether a failed call's errno ``no`` says the store is not there (None: no errno,
    which says nothing)."""
    return no in ABSENCE


def as_path(value: object) -> str | None:
    """``value`` if it can name a store (an absolute, normalised path without NUL), else
    None: a path from a row another machine wrote may be a number, which ``os.stat`` would
    take for a descriptor of this process, or hold a NUL, which every system call refuses.
    A relative one would be looked up from the worker's directory, and one with a trailing
    slash reads "not a directory" (absent) for a file that is there (review 164/5): no
    kind names its store so, nor does /proc/swaps."""
    if not isinstance(value, str) or not value.startswith("/") or "\0" in value:
        return None
    return value if not value.startswith("//") and os.path.normpath(value) == value else None


def there(path: object, *, follow: bool = True) -> bool | None:
    """Whether ``path`` is there: True, False (nothing at it), or None (cannot tell).

    None when a stat failed for another reason than absence, when ``path`` is no path at
    all (a row another machine wrote: not a string, or a NUL in it), and, following links,
    when the path is missing behind a link: a dangling link at it, or any link among the
    directories on the way. The file kind walks to its store refusing every link on the
    way (``safepath``), so the observer and the checks can say only "cannot read the
    store: a symbolic link" of such a path; "absent" here made the row flip between the
    two every sample, and offered a provision the walk refuses (review 168/2, which
    undoes review 165/5's "a link that resolves is no reason")."""
    path = as_path(path)
    if path is None:
        return None
    try:
        os.stat(path, follow_symlinks=follow)
    except OSError as e:
        if not says_absent(e.errno):
            return None
        if follow and _link_on_the_way(path):
            return None
        return False
    return True


def _link_on_the_way(path: str) -> bool:
    """Whether ``path`` itself, or a directory named on the way to it, is a symbolic link.
    Each prefix is looked at with ``lstat``, which follows the links before it, as the
    kernel's walk does; one that cannot be looked at is missing, and its parent says why."""
    prefix = path
    while True:
        try:
            if stat.S_ISLNK(os.lstat(prefix).st_mode):
                return True
        except OSError:
            pass
        parent = os.path.dirname(prefix)
        if parent == prefix:
            return False
        prefix = parent


def could_not_look(e: BaseException) -> bool:
    """Whether ``e`` (from reading a store) says nothing of whether the store is there, or
    whose it is: a kind's refusal of what it reached (UnsafeError: a link, a directory
    anyone may write), or a system call that failed for a reason other than "no such file
    or device". A kind's own "no device" or "does not exist" carries no errno; one raised
    while handling a failed call (a stat) is judged by that call's (reviews 160/5, 162/3).
    The observer and the health probes judge by this one rule (review 164/2, 164/8)."""
    if isinstance(e, UnsafeError):
        return True
    no = errno_in_chain(e)
    return no is not None and not says_absent(no)


def errno_in_chain(e: BaseException) -> int | None:
    """The errno of ``e``, or of the nearest exception it was raised from or while handling
    (a kind that wrote no ``from`` leaves only the context); None if none has one. A
    context hidden by ``from None`` counts too: that only shortens a traceback, and a kind
    that wrote ``raise … from None`` inside ``except OSError`` (EACCES, EIO) would
    otherwise have its failed look read as "absent" (review 168/6)."""
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        no = getattr(cur, "errno", None)
        if isinstance(no, int):
            return no
        cur = cur.__cause__ or cur.__context__
    return None


def gone(e: BaseException, path: object) -> bool:
    """Whether ``e``, raised reading the store at ``path``, says the store is not there:
    its errno says so, or, when it carries none (a kind's own "does not exist"), a look at
    ``path`` now finds nothing. A check that finds the store gone leaves it to the store's
    own check to say so, rather than calling it damaged or someone else's (review 168/4)."""
    if isinstance(e, UnsafeError):
        # A refusal of what the walk reached (a mount missing on the way, a directory
        # others may write) says nothing of the store, as ``could_not_look`` says (178/2).
        return False
    no = errno_in_chain(e)
    if no is not None:
        return says_absent(no)
    return there(path, follow=False) is False
