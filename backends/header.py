"""The SWAPSPACE2 swap header: page 0 of every swap area, byte-compatible with util-linux.

Layout (native byte order, as the kernel reads it; ``union swap_header`` in linux/swap.h):

====== ======= =========================================================
offset size    field
====== ======= =========================================================
0      1024    bootbits: left alone when a partition table lives there
1024   4       version (1)
1028   4       last_page: the last usable page index, size in pages - 1
1032   4       nr_badpages
1036   16      uuid
1052   16      volume_name (the label; NUL-padded, no NUL when 16 bytes)
1068   468     padding u32[117]
1536   4 * n   badpages: page indexes the kernel must never use
PS-10  10      magic ``SWAPSPACE2``
====== ======= =========================================================

``mkswap`` is ``backend.swap_out(0, header)``, so it inherits the contract's refusal to
write an area that is active in /proc/swaps, and asks the store again just before it
writes (``recheck_store``). ``read_header`` only reads, so it is safe on
an active area.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import struct
import uuid as uuid_mod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from . import wipefs
from .base import PAGE_SIZE, SwapBackend
from .errors import ActiveAreaError, HeaderError, KernelError, NotOursError, ValidationError
from .store import active_path

MAGIC: Final = b"SWAPSPACE2"
#: The pre-2.2 format; the kernel no longer reads it, but naming it helps the operator.
OLD_MAGIC: Final = b"SWAP-SPACE"
BOOTBITS: Final = 1024
LABEL_BYTES: Final = 16
#: util-linux and the kernel both refuse areas smaller than this.
MIN_PAGES: Final = 10
#: last_page is a u32, so an area holds at most 2**32 pages; the rest is left unused.
MAX_PAGES: Final = 2**32

# version, last_page, nr_badpages, uuid, volume_name
_INFO = struct.Struct("=III16s16s")
_INFO_OFFSET: Final = BOOTBITS
# After version, last_page, nr_badpages (4 bytes each) and the 16-byte uuid.
_LABEL_OFFSET: Final = BOOTBITS + 12 + 16
# 1024 bootbits + 128 u32 (3 counters, 4 for the uuid, 4 for the label, 117 padding)
_BADPAGES_OFFSET: Final = BOOTBITS + 128 * 4
_MIN_PAGE_SIZE: Final = _BADPAGES_OFFSET + len(MAGIC)


@dataclass(frozen=True)
class SwapHeader:
    """One swap header, as values. ``build_header`` refuses one that the kernel would not."""

    version: int
    page_size: int
    last_page: int
    badpages: tuple[int, ...]
    uuid: uuid_mod.UUID
    label: str

    @property
    def nr_badpages(self) -> int:
        return len(self.badpages)

    @property
    def size_pages(self) -> int:
        """Pages in the area, header included."""
        return self.last_page + 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what ``inspect --json`` prints and the API returns."""
        return {
            "version": self.version,
            "page_size": self.page_size,
            "last_page": self.last_page,
            "nr_badpages": self.nr_badpages,
            "badpages": list(self.badpages),
            "uuid": str(self.uuid),
            "label": self.label,
        }


def max_badpages(page_size: int) -> int:
    """How many bad-page entries fit between the header fields and the magic."""
    return (page_size - _BADPAGES_OFFSET - len(MAGIC)) // 4


# ---- the codec (pure) ----


def build_header(hdr: SwapHeader, boot_sector: bytes | None = None) -> bytes:
    """The header page for ``hdr``: exactly ``hdr.page_size`` bytes, zero where unused.

    ``boot_sector`` (exactly 1024 bytes) is kept as the bootbits; None zeroes them. Raises
    ValidationError, naming the field, for anything util-linux or the kernel would refuse.
    """
    _check_page_size(hdr.page_size, ValidationError)
    label = _label_bytes(hdr.label)
    problem = _inconsistency(hdr.version, hdr.page_size, hdr.last_page, hdr.badpages)
    if problem:
        raise ValidationError(problem, field="badpages" if "bad page" in problem else None)
    if boot_sector is not None and len(boot_sector) != BOOTBITS:
        raise ValidationError(f"a boot sector is {BOOTBITS} bytes, not {len(boot_sector)}")
    page = bytearray(hdr.page_size)
    if boot_sector is not None:
        page[:BOOTBITS] = boot_sector
    _INFO.pack_into(
        page, _INFO_OFFSET, hdr.version, hdr.last_page, hdr.nr_badpages, hdr.uuid.bytes, label
    )
    struct.pack_into(f"={hdr.nr_badpages}I", page, _BADPAGES_OFFSET, *hdr.badpages)
    page[hdr.page_size - len(MAGIC) :] = MAGIC
    return bytes(page)


def parse_header(page: bytes, page_size: int = PAGE_SIZE) -> SwapHeader:
    """The header in ``page`` (at least ``page_size`` bytes). Raises HeaderError when there
    is no SWAPSPACE2 magic or the fields contradict each other (the kernel would refuse it)."""
    _check_page_size(page_size, HeaderError)
    if len(page) < page_size:
        raise HeaderError(f"a {page_size}-byte header page was expected, got {len(page)} bytes")
    magic = bytes(page[page_size - len(MAGIC) : page_size])
    if magic != MAGIC:
        raise HeaderError(_no_magic_reason(magic, page_size))
    version, last_page, nr_bad, raw_uuid, raw_label = _INFO.unpack_from(page, _INFO_OFFSET)
    if version != 1 and _swapped(version) == 1:
        raise HeaderError(
            "the swap header was written by a machine of the other byte order; "
            "run mkswap on this host before using it"
        )
    if nr_bad > max_badpages(page_size):
        raise HeaderError(
            f"the header claims {nr_bad} bad pages, more than the "
            f"{max_badpages(page_size)} that fit in a {page_size}-byte page: it is corrupt"
        )
    badpages = struct.unpack_from(f"={nr_bad}I", page, _BADPAGES_OFFSET)
    problem = _inconsistency(version, page_size, last_page, badpages)
    if problem:
        raise HeaderError(f"inconsistent swap header: {problem}")
    return SwapHeader(
        version=version,
        page_size=page_size,
        last_page=last_page,
        badpages=tuple(badpages),
        uuid=uuid_mod.UUID(bytes=raw_uuid),
        # Labels are bytes to the kernel; one written elsewhere may not be UTF-8.
        label=raw_label.split(b"\0", 1)[0].decode("utf-8", errors="replace"),
    )


def _check_page_size(page_size: int, error: type[ValidationError] | type[HeaderError]) -> None:
    if page_size < _MIN_PAGE_SIZE or page_size & (page_size - 1):
        raise error(
            f"page size {page_size} is not a power of two of at least {_MIN_PAGE_SIZE} bytes"
        )


def _label_bytes(label: str) -> bytes:
    raw = label.encode("utf-8")
    if len(raw) > LABEL_BYTES:
        raise ValidationError(
            f"label {label!r} is {len(raw)} bytes in UTF-8; a swap label holds at most "
            f"{LABEL_BYTES}",
            field="label",
        )
    if b"\0" in raw:
        raise ValidationError("a swap label must not contain a NUL byte", field="label")
    return raw


def _inconsistency(version: int, page_size: int, last_page: int, badpages: Sequence[int]) -> str:
    """What makes these fields a header the kernel refuses, or "" when they are fine."""
    if version != 1:
        return f"swap header version {version} is not supported (only version 1 exists)"
    if not 0 < last_page < MAX_PAGES:
        return f"last page {last_page} is outside 1..{MAX_PAGES - 1}"
    if len(badpages) > max_badpages(page_size):
        return (
            f"{len(badpages)} bad pages do not fit in a {page_size}-byte header "
            f"(at most {max_badpages(page_size)})"
        )
    # The kernel refuses page 0 (the header itself) and pages past last_page with EINVAL.
    for page in badpages:
        if not 0 < page <= last_page:
            return f"bad page {page} is outside the area's pages 1..{last_page}"
    if len(set(badpages)) != len(badpages):
        return "the bad page list names a page twice"
    return ""


def _swapped(value: int) -> int:
    return int.from_bytes(value.to_bytes(4, "little"), "big")


def _no_magic_reason(magic: bytes, page_size: int) -> str:
    if magic == OLD_MAGIC:
        return (
            "this is an old version 0 swap area (SWAP-SPACE), which Linux no longer reads; "
            "run mkswap to format it again"
        )
    return (
        f"no swap header: the SWAPSPACE2 magic is not at byte {page_size - len(MAGIC)} "
        "of page 0 (not formatted with mkswap, or formatted with another page size)"
    )


# ---- on a backend ----


def read_header(backend: SwapBackend) -> SwapHeader:
    """The header of ``backend``'s area, read with ``swap_in(0)``. Writes nothing, so it is
    safe on an area that is active in /proc/swaps."""
    return parse_header(backend.swap_in(0), PAGE_SIZE)


def mkswap(
    backend: SwapBackend,
    *,
    label: str = "",
    uuid: uuid_mod.UUID | None = None,
    badpages: Sequence[int] = (),
) -> SwapHeader:
    """Format ``backend``'s area as swap, as util-linux mkswap does, and return the header.

    Every check (size, label, bad pages) runs before the first write, so a refusal changes
    nothing; an area active in /proc/swaps is refused by the contract's write path. Bytes
    0..1023 are kept only when they hold a partition table. Filesystem, RAID and other
    signatures inside the area are zeroed, so blkid sees only the swap area afterwards.
    """
    # Before the descriptor is asked for writing, which ends the store's blankness.
    blank = backend.take_blank()
    fd = backend.descriptor(True)  # the store is proven this backend's before anything
    pages = _usable_pages(backend)
    hdr = SwapHeader(
        version=1,
        page_size=PAGE_SIZE,
        last_page=pages - 1,
        badpages=tuple(badpages),
        uuid=uuid or uuid_mod.uuid4(),
        label=label,
    )
    _check_enough_good_pages(hdr)
    _check_badpages_allowed(backend, hdr)
    build_header(hdr)  # validates before anything is read or written
    # A file made empty by this very provision holds nothing for wipefs to find.
    signatures = [] if blank else wipefs.signatures(fd, backend.io_path())
    keep_boot = any(s.usage == "partition-table" for s in signatures)
    page0 = backend.swap_in(0)
    boot = bytearray(page0[:BOOTBITS]) if keep_boot else None
    _proven_again(backend)
    _wipe(backend, [s for s in signatures if s.usage != "partition-table"], pages, boot)
    backend.swap_out(0, build_header(hdr, bytes(boot) if boot is not None else None))
    _sync(fd, backend.io_path())
    backend.note_formatted(str(hdr.uuid))
    return hdr


def set_badpages(backend: SwapBackend, badpages: Sequence[int]) -> SwapHeader:
    """Rewrite page 0 with ``badpages`` as the bad-page list. Every other byte of the page
    (bootbits, uuid, label as raw bytes) stays as it was. Refuses an area without a valid
    header, an invalid list, and (through the contract) an active area."""
    page = backend.swap_in(0)
    old = parse_header(page, PAGE_SIZE)
    new = dataclasses.replace(old, badpages=tuple(badpages))
    _check_enough_good_pages(new)
    _check_badpages_allowed(backend, new)
    build_header(dataclasses.replace(new, label=""))  # validates the list
    patched = bytearray(page)
    struct.pack_into("=I", patched, _INFO_OFFSET + 8, new.nr_badpages)
    table_end = PAGE_SIZE - len(MAGIC)
    patched[_BADPAGES_OFFSET:table_end] = bytes(table_end - _BADPAGES_OFFSET)
    struct.pack_into(f"={new.nr_badpages}I", patched, _BADPAGES_OFFSET, *new.badpages)
    _proven_again(backend)
    backend.swap_out(0, bytes(patched))
    _sync(backend.descriptor(True), backend.io_path())
    return new


def set_label(backend: SwapBackend, label: str) -> SwapHeader:
    """Rewrite the label of ``backend``'s swap header in place; every other byte of page 0
    (bootbits, version, last_page, the bad pages, the UUID) stays as it was.

    The label is checked before anything is opened. The writable descriptor is opened and
    proven here, just before the write (not active in /proc/swaps, the recorded store, the
    swap UUID this backend wrote), and page 0 is read and written back through that very
    descriptor, so no name looked up again can swap the store in between. An adopted area
    is refused by the proof: swapadmin never writes a store it did not make."""
    raw = _label_bytes(label).ljust(LABEL_BYTES, b"\0")
    # A descriptor opened earlier was proven then; the proof must hold now.
    backend.close()
    fd = backend.descriptor(True)
    page = backend.swap_in(0)
    old = parse_header(page, PAGE_SIZE)
    want = backend.record.get("uuid")
    if str(old.uuid) != want:
        raise NotOursError(
            f"{backend.io_path()} holds the swap area with UUID {old.uuid}, not {want} that "
            "this backend wrote; nothing was written"
        )
    patched = bytearray(page)
    patched[_LABEL_OFFSET : _LABEL_OFFSET + LABEL_BYTES] = raw
    if active_path(fd) is not None:  # a swapon since the proof: its pages are live memory
        raise ActiveAreaError(
            f"{backend.io_path()} became active in /proc/swaps; its label is only rewritten "
            "on an inactive area. Nothing was written."
        )
    _proven_again(backend)
    backend.swap_out(0, bytes(patched))
    _sync(fd, backend.io_path())
    return dataclasses.replace(old, label=label)


def _proven_again(backend: SwapBackend) -> None:
    """Just before a header is written: the store the descriptor holds is still inactive
    and still this backend's alone (``recheck_store``). The descriptor may have been
    proven a while ago (a resize's growth, then this), and a loop device attached over the
    file and swapped on since reaches it under another name, which neither O_EXCL nor the
    kernel's swap-file guard stops: page 0 of an active area would be written (review
    225/1)."""
    backend.recheck_store()


def _usable_pages(backend: SwapBackend) -> int:
    pages = backend.size_pages
    if pages < MIN_PAGES:
        raise ValidationError(
            f"{backend.io_path()} holds {pages} whole pages ({backend.capacity_bytes()} bytes); "
            f"a swap area needs at least {MIN_PAGES} pages ({MIN_PAGES * PAGE_SIZE} bytes)",
            field="size_bytes",
        )
    # Like util-linux: a larger area is used up to what last_page can address.
    return min(pages, MAX_PAGES)


def _check_enough_good_pages(hdr: SwapHeader) -> None:
    if hdr.nr_badpages > hdr.size_pages - MIN_PAGES:
        raise ValidationError(
            f"{hdr.nr_badpages} bad pages leave fewer than {MIN_PAGES} good pages in an area "
            f"of {hdr.size_pages}: the device is not usable as swap",
            field="badpages",
        )


def _check_badpages_allowed(backend: SwapBackend, hdr: SwapHeader) -> None:
    # read_swap_header() in mm/swapfile.c rejects any bad-page list on a regular file
    # (swapon fails with a bare EINVAL), so such a header would only look usable.
    if not hdr.badpages:
        return
    path = backend.io_path()
    if stat.S_ISREG(os.fstat(backend.descriptor(False)).st_mode):
        raise ValidationError(
            f"{path} is a regular file, and the kernel refuses to swap on a file whose header "
            "lists bad pages; a file with bad pages should be recreated elsewhere, not marked",
            field="badpages",
        )


def _wipe(
    backend: SwapBackend, signatures: list[wipefs.Signature], pages: int, boot: bytearray | None
) -> None:
    """Zero each signature's magic inside the area's ``pages`` pages. Page 0 is about to be
    rewritten, so only the kept boot sector is patched there; bytes past the last whole
    page are not part of the area and are never touched."""
    for sig in signatures:
        end = sig.offset + sig.length
        if end > pages * PAGE_SIZE:
            continue
        if sig.offset < PAGE_SIZE:
            if boot is not None and sig.offset < BOOTBITS:
                boot[sig.offset : min(end, BOOTBITS)] = bytes(min(end, BOOTBITS) - sig.offset)
            continue
        for slot in range(sig.offset // PAGE_SIZE, (end - 1) // PAGE_SIZE + 1):
            page = bytearray(backend.swap_in(slot))
            lo = max(sig.offset, slot * PAGE_SIZE) - slot * PAGE_SIZE
            hi = min(end, (slot + 1) * PAGE_SIZE) - slot * PAGE_SIZE
            page[lo:hi] = bytes(hi - lo)
            backend.swap_out(slot, bytes(page))


def _sync(fd: int, path: str) -> None:
    # O_DIRECT bypasses the page cache but not the device's cache or the file's metadata;
    # util-linux fsyncs before swapon for the same reason.
    try:
        os.fsync(fd)
    except OSError as e:
        raise KernelError(f"fsync of {path} failed: {e.strerror}", errno=e.errno) from e
