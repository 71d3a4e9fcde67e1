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

# "No such file" (ENOENT, or ENOTDIR: a file where a directory of the path should be), and,
# for a device node whose device is gone, the errors of opening it (ENXIO, ENODEV).
ABSENCE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ENXIO, errno.ENODEV})


def says_absent(no: int | None) -> bool:
    """Whether a failed call's errno ``no`` says the store is not there (None: no errno,
    which says nothing)."""
    return no in ABSENCE


def as_path(value: object) -> str | None:
    """``value`` if it can name a file (a non-empty string without NUL), else None: a path
    from a row another machine wrote may be a number, which ``os.stat`` would take for a
    descriptor of this process, or hold a NUL, which every system call refuses."""
    return value if isinstance(value, str) and value and "\0" not in value else None


def there(path: object, *, follow: bool = True) -> bool | None:
    """Whether ``path`` is there: True, False (nothing at it), or None (cannot tell).

    None when a stat failed for another reason than absence, when ``path`` is no path at
    all (a row another machine wrote: not a string, or a NUL in it), and, following links,
    when the path is missing only because a link on the way points at nothing: a kind
    refuses such a link (an error the reader must not turn into "absent"), and a dangling
    link is something a person should look at, not a store known to be gone."""
    path = as_path(path)
    if path is None:
        return None
    try:
        os.stat(path, follow_symlinks=follow)
    except OSError as e:
        if not says_absent(e.errno):
            return None
        if follow and _dangling_link_on_the_way(path):
            return None
        return False
    return True


def _dangling_link_on_the_way(path: str) -> bool:
    """Whether ``path`` itself, or a directory named on the way to it, is a link whose
    target is missing. Only such a link: a swap root reached through a link that resolves
    is the usual case, and a file missing under it is absent (review 165/5). Each prefix is
    looked at with ``lstat``, which follows the links before it, as the kernel's walk
    does."""
    prefix = os.path.normpath(path)
    while True:
        try:
            is_link = stat.S_ISLNK(os.lstat(prefix).st_mode)
        except OSError:
            is_link = False  # missing here: its parent says why
        if is_link:
            try:
                os.stat(prefix)
            except OSError as e:
                if says_absent(e.errno):
                    return True
        parent = os.path.dirname(prefix)
        if parent == prefix:
            return False
        prefix = parent
