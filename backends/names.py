"""What an fstab source names on this host, resolved the way util-linux resolves it.

swapon(8) hands an fstab source to libmount, which evaluates ``UUID=``, ``LABEL=``,
``PARTUUID=`` and ``PARTLABEL=`` with libblkid's ``blkid_evaluate_tag`` (findfs(8) is a
front end to the same call): first udev's ``/dev/disk/by-*`` links, then a probe of the
block devices. We ask the same tools rather than reimplement them: the udev link when
udev made one, else ``blkid -l -o device -t TAG=value`` with the cache bypassed, so a
device attached a moment ago (a loop device) is found and a stale cache line is not.

libblkid only ever finds block devices. A swap *file* named by ``UUID=``/``LABEL=`` in
fstab is something swapon(8) itself cannot resolve; the only place the kernel shows such a
file is /proc/swaps once it is active, so the header of each active file is read to match
the tag (read-only, never a write).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from typing import Final

from . import kernel
from .errors import HeaderError, KernelError

#: The tags libblkid evaluates, and the udev directory of links for each.
TAG_LINKS: Final = {
    "UUID": "/dev/disk/by-uuid",
    "LABEL": "/dev/disk/by-label",
    "PARTUUID": "/dev/disk/by-partuuid",
    "PARTLABEL": "/dev/disk/by-partlabel",
}
#: A tag matched against swap headers of active files: the header has a UUID and a label.
_HEADER_TAGS: Final = ("UUID", "LABEL")
_BLKID_TIMEOUT: Final = 30.0


@dataclass(frozen=True)
class Resolved:
    """Where an fstab source leads: the real ``path`` (no symlink in it), and how it was
    found, for the job's log."""

    spec: str
    path: str
    how: str


class Unresolved(Exception):
    """The source names nothing on this host; ``reason`` says what was tried."""

    def __init__(self, spec: str, reason: str) -> None:
        super().__init__(f"{spec}: {reason}")
        self.spec = spec
        self.reason = reason


def split_tag(spec: str) -> tuple[str, str] | None:
    """``("UUID", "1234-...")`` for a tag source (quotes stripped, as libmount does), None
    for a path. Tag names are case-sensitive in libblkid and libmount: ``uuid=...`` is no
    tag to findfs or swapon (it names nothing at boot), so it is none here either."""
    tag, sep, value = spec.partition("=")
    if not sep or tag not in TAG_LINKS:
        return None
    return tag, value.strip("\"'")


def resolve(spec: str, *, every: bool = True) -> Resolved:
    """The real path ``spec`` names: a tag by libblkid's rules (udev link, then a probe),
    then by the headers of active swap files; a path through its symlinks (a udev
    ``/dev/disk/by-*`` link, or a link to a file). Raises Unresolved saying why not,
    and when the tag names more than one area: which of them findfs or swapon picks
    depends on udev's and the cache's order, which a reboot may change.

    ``every=False`` takes udev's link when there is one, as libblkid itself does, without
    probing: a probe opens every block device on the host (a distribution's zram reset
    fails with EBUSY while it runs), which a look made every minute must not do. Only
    adopting needs ``every`` (a tag two devices share must be found out, and udev links
    only one of them)."""
    tagged = split_tag(spec)
    if tagged is None:
        return _resolve_path(spec)
    tag, value = tagged
    if not value:
        raise Unresolved(spec, f"{tag}= has no value")
    link = _by_udev_link(tag, value)
    if link is not None and not every:
        return Resolved(spec, link, "udev link")
    devices = _by_blkid(tag, value)
    found = list(dict.fromkeys([*([link] if link else []), *devices]))
    how = "udev link" if link else "blkid"
    if not found:
        found, how = _by_active_swap_files(tag, value), "the header of an active swap file"
    if len(found) > 1:
        raise Unresolved(
            spec,
            f"{tag} {value!r} names {len(found)} areas on this host ({', '.join(found)}): "
            "findfs and swapon pick one of them by udev's and blkid's order, which may "
            f"change at the next boot, so swapadmin takes it for neither; give each its own {tag} "
            "(swaplabel) or name it by path",
        )
    if found:
        return Resolved(spec, found[0], how)
    files = " or an active swap file's header" if tag in _HEADER_TAGS else ""
    raise Unresolved(
        spec,
        f"no block device on this host has {tag} {value!r} (udev links and blkid, as findfs "
        f"looks){files}; a swap file named this way is found only while it is active",
    )


def _resolve_path(spec: str) -> Resolved:
    if not spec.startswith("/"):
        tag = spec.partition("=")[0]
        if tag.upper() in TAG_LINKS:
            raise Unresolved(
                spec,
                f"{tag}= is not a tag to findfs or swapon, which know only {tag.upper()}= "
                "(tag names are case-sensitive): this line names nothing at boot",
            )
        raise Unresolved(spec, "neither an absolute path nor a UUID=/LABEL=/PARTUUID= tag")
    real = os.path.realpath(spec)
    if not os.path.lexists(spec):
        raise Unresolved(spec, "does not exist on this host")
    if not os.path.lexists(real):
        raise Unresolved(spec, f"is a symbolic link to {real}, which does not exist")
    how = "path" if real == os.path.normpath(spec) else f"symbolic link to {real}"
    return Resolved(spec, real, how)


def udev_encode(value: str) -> str:
    """A tag value as udev spells it in a ``/dev/disk/by-*`` link name (libblkid's
    ``blkid_encode_string``: '/' , whitespace and other unsafe bytes as ``\\xHH``)."""
    safe = set("#+-.:=@_")
    out = []
    for ch in value:
        if ch.isascii() and (ch.isalnum() or ch in safe):
            out.append(ch)
        elif not ch.isascii():
            out.append(ch)  # valid UTF-8 passes through, as in libblkid
        else:
            out.append(f"\\x{ord(ch):02x}")
    return "".join(out)


def _by_udev_link(tag: str, value: str) -> str | None:
    link = os.path.join(TAG_LINKS[tag], udev_encode(value.lower() if tag == "UUID" else value))
    if not os.path.islink(link):
        return None
    real = os.path.realpath(link)
    return real if _is_block(real) else None


def _by_blkid(tag: str, value: str) -> list[str]:
    """Every block device blkid finds with ``tag=value`` (not just the first: two devices
    with one label must be told apart, not guessed between). None found is blkid's exit
    status 2 and nothing else: a blkid that is missing, fails or hangs raises KernelError,
    for a device udev links would otherwise be taken as the only one with the tag."""
    blkid = shutil.which("blkid") or "/sbin/blkid"
    # -c /dev/null: probe now instead of trusting /run/blkid/blkid.tab, which may name a
    # device that was detached (or miss one attached a moment ago).
    cmd = [blkid, "-c", "/dev/null", "-o", "device", "-t", f"{tag}={value}"]
    unknown = f"so which block devices have {tag} {value!r} is not known"
    try:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="surrogateescape",
            close_fds=True,
        )
    except OSError as e:
        missing = isinstance(e, FileNotFoundError)
        hint = "; install util-linux (Debian: apt-get install util-linux)" if missing else ""
        raise KernelError(
            f"{blkid} cannot be run ({e.strerror}), {unknown}{hint}", errno=e.errno
        ) from None
    try:
        stdout, stderr = kernel.finish(proc, _BLKID_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise KernelError(
            f"blkid did not answer within {_BLKID_TIMEOUT:.0f} s (a device that does not "
            "answer reads?)"
        ) from None
    if proc.returncode == 2:
        return []  # blkid(8): the token was not found (no device has the tag)
    if proc.returncode != 0:
        said = stderr.strip().split("\n")[-1]
        raise KernelError(
            f"blkid failed with exit status {proc.returncode}, {unknown}"
            + (f": {said}" if said else "")
        )
    devices = (d.strip() for d in stdout.splitlines())
    return list(dict.fromkeys(os.path.realpath(d) for d in devices if d and _is_block(d)))


def _by_active_swap_files(tag: str, value: str) -> list[str]:
    if tag not in _HEADER_TAGS:
        return []
    out = []
    for area in kernel.swap_areas():
        if area.type != "file":
            continue
        hdr = read_swap_header(area.path)
        if hdr is None:
            continue
        got = str(hdr[0]) if tag == "UUID" else hdr[1]
        if (got.lower() == value.lower()) if tag == "UUID" else (got == value):
            out.append(area.path)
    return out


def read_swap_header(path: str) -> tuple[str, str] | None:
    """The (uuid, label) of the swap header at ``path``, read-only and without following a
    symlink; None when it is not a swap area or cannot be read."""
    from .base import PAGE_SIZE
    from .header import parse_header
    from .store import read_page0

    # What the name is comes first: opening a FIFO would wait for a writer for ever, and
    # opening a character device runs its driver (a tape rewinds). O_NONBLOCK as well, for
    # a name swapped for a FIFO between the two.
    try:
        mode = os.lstat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode)):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
            return None
        hdr = parse_header(read_page0(fd, PAGE_SIZE), PAGE_SIZE)
    except (HeaderError, KernelError, OSError):
        return None
    finally:
        os.close(fd)
    return str(hdr.uuid), hdr.label


def is_swap_area(path: str) -> bool:
    """True when ``path`` holds a SWAPSPACE2 header (read-only, no symlink followed)."""
    return read_swap_header(path) is not None


def _is_block(path: str) -> bool:
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False
