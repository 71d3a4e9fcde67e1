"""What libblkid recognises on a store: ``wipefs --no-act --json``, read in one place.

Every refusal that protects data on a device (the block kind's "holds data", mkswap's wipe
of old signatures, an adoption's "it holds ext4") reads this one listing. A listing that
could not be made is an error, never an empty list: an empty list means "nothing there",
and the block kind would then format a device whose filesystem wipefs failed to read.

wipefs alone cannot say when its listing is short: on a device it opens but cannot read,
libblkid's probe loop ends at the first read error and wipefs exits 0 with a short or empty
listing (review 148/1). So a listing that gates a write (:func:`signatures_read_whole`) is
bracketed by reads of every region libblkid probes, through the very descriptor the caller
proved: a region that cannot be read is a refusal, never "nothing there".
"""

from __future__ import annotations

import json
import mmap
import os
import subprocess
from dataclasses import dataclass
from typing import Any, Final, NoReturn

from .errors import KernelError, UnsafeError, printable
from .kernel import finish

#: wipefs reads a few sectors at each offset libblkid knows; a minute is a device that no
#: longer answers, not a slow one.
TIMEOUT: Final = 60.0
_COLUMNS: Final = "OFFSET,LENGTH,TYPE,USAGE,LABEL,UUID"
#: Where libblkid's probes read, as util-linux 2.38 runs them for wipefs: from the start, up
#: to LUKS2's farthest secondary header (4 MiB); from the end, the RAID formats that keep
#: their metadata there (Promise FastTrack's farthest copy, about 1.6 MiB back), mdraid 0.90
#: and 1.0, the GPT backup, ZFS's last two labels. Eight MiB at each end covers them all
#: with room; reading them costs a few milliseconds, once per provision.
PROBED_HEAD: Final = 8 << 20
PROBED_TAIL: Final = 8 << 20
_CHUNK: Final = 1 << 20
#: Reads are aligned for a descriptor opened O_DIRECT (4096 covers every logical block size
#: Linux supports for O_DIRECT on the devices and filesystems here).
_ALIGN: Final = 4096


@dataclass(frozen=True)
class Signature:
    """One magic string libblkid recognises. ``type`` (``ext4``, ``gpt``, ``swap``) and
    ``usage`` (``filesystem``, ``partition-table``, ``raid``, ``other``) are libblkid's
    words; ``label`` and ``uuid`` are made printable (a label is any bytes)."""

    offset: int
    length: int
    type: str
    usage: str
    label: str = ""
    uuid: str = ""


def signatures(where: str | int, name: str = "") -> list[Signature]:
    """Every signature on a path, or on an open descriptor (``/dev/fd/N``: the very store
    the caller holds and proved, not a name looked up again; ``name`` is its path, which a
    message names instead of the descriptor). Reads only. KernelError when wipefs is
    missing, fails or hangs."""
    fds: tuple[int, ...] = (where,) if isinstance(where, int) else ()
    argv = ["wipefs", "--no-act", "--json", "--output", _COLUMNS]
    argv.append(f"/dev/fd/{where}" if isinstance(where, int) else where)
    target = name or argv[-1]
    # Labels are any bytes (mkswap -L under another locale, a FAT label in a DOS code page)
    # and wipefs's JSON carries them raw: decoded as names are, so the JSON still parses,
    # then made printable field by field.
    try:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            encoding="utf-8",
            errors="surrogateescape",
            pass_fds=fds,
        )
    except FileNotFoundError:
        raise KernelError(
            "wipefs is not installed; install util-linux (Debian: apt-get install util-linux)"
        ) from None
    except OSError as e:  # not executable, no memory to fork: still "not known", said so
        raise KernelError(
            f"wipefs cannot be run ({e.strerror}), so what {target} holds is not known",
            errno=e.errno,
        ) from None
    try:
        stdout, stderr = finish(proc, TIMEOUT)
    except subprocess.TimeoutExpired:
        raise KernelError(
            f"wipefs did not finish reading {target} within {TIMEOUT:.0f} s: "
            "the device is not answering, so what it holds is not known",
            retryable=True,
        ) from None
    if proc.returncode != 0:
        reason = stderr.strip().split("\n")[-1] or f"exit status {proc.returncode}"
        raise KernelError(
            f"wipefs could not read {target}, so what it holds is not known: {reason}"
        )
    if not stdout.strip():
        return []  # wipefs prints nothing at all when there is no signature
    try:
        return [_signature(row) for row in json.loads(stdout)["signatures"]]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise KernelError(f"wipefs's listing of {target} is not understood: {e}") from e


def signatures_read_whole(fd: int, name: str) -> list[Signature]:
    """Every signature on the store open on ``fd`` (``name`` is its path, for messages),
    for a decision that gates a write: the regions libblkid probes are read through ``fd``
    before wipefs runs (buffered, that also leaves them in the cache wipefs reads from) and
    again after it, so a listing cut short by a read error is never taken for a whole one.
    UnsafeError naming the offset when a region cannot be read: what the store holds is not
    known, and only a person's confirmation (force) may format it anyway."""
    read_probed_regions(fd, name)
    found = signatures(fd, name)
    read_probed_regions(fd, name)
    return found


def read_probed_regions(fd: int, name: str) -> None:
    """Read every byte libblkid probes on the store open on ``fd``: the first and last
    :data:`PROBED_HEAD`/:data:`PROBED_TAIL` bytes, or all of a smaller store. UnsafeError
    on a read error or a read that ends before the store's size does."""
    size = _size(fd, name)
    buf = mmap.mmap(-1, _CHUNK)  # page-aligned, for an O_DIRECT descriptor
    try:
        for start, end in _probed_regions(size):
            offset = start
            while offset < end:
                # A buffered read stops short before a page that fails; the next read, from
                # there, names the error and where it is.
                want = min(_CHUNK, end - offset)
                try:
                    got = os.preadv(fd, [memoryview(buf)[:want]], offset)
                except OSError as e:
                    _unreadable(name, offset, want, e.strerror or str(e))
                if got <= 0:
                    _unreadable(name, offset, want, f"the store ends before its size, {size}")
                offset += got
    finally:
        buf.close()


def _probed_regions(size: int) -> list[tuple[int, int]]:
    """[start, end) byte ranges to read, aligned to :data:`_ALIGN` (the tail rounded down, a
    size not a multiple of it ends with a shorter read) and merged where they meet."""
    head = min(size, PROBED_HEAD)
    tail = max(head, (size - PROBED_TAIL) // _ALIGN * _ALIGN)
    if tail <= head:
        return [(0, size)] if size else []
    return [(0, head), (tail, size)]


def _size(fd: int, name: str) -> int:
    import stat

    from . import devices

    try:
        st = os.fstat(fd)
    except OSError as e:
        raise KernelError(f"cannot stat {name}: {e.strerror}", errno=e.errno) from e
    if stat.S_ISBLK(st.st_mode):
        return devices.device_size_fd(fd, name)
    return st.st_size


def _unreadable(name: str, offset: int, length: int, why: str) -> NoReturn:
    raise UnsafeError(
        f"{name} cannot be read at bytes {offset:#x}-{offset + length:#x} ({why}), where "
        "libblkid looks for filesystems, RAID members and partition tables: what it holds "
        "is not known. Confirm with force to make it swap anyway (a scan then finds the "
        "pages that fail)."
    )


def _signature(row: dict[str, Any]) -> Signature:
    def text(key: str) -> str:
        return printable(str(row.get(key) or ""))

    return Signature(
        offset=int(str(row["offset"]), 0),  # "0x438"
        length=int(row["length"]),  # asked for: a row without it is not understood
        type=text("type"),
        usage=text("usage"),
        label=text("label"),
        uuid=text("uuid"),
    )
