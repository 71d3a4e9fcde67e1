"""mkswap leaves blkid seeing only the new swap area: old filesystem signatures are zeroed
(only their magic bytes), bootbits survive only under a partition table, and nothing past
the area's last whole page is touched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backends.base import PAGE_SIZE
from backends.header import mkswap
from backends.wipefs import signatures as list_signatures
from tests.backends.test_header_roundtrips_with_util_linux import blkid, plain
from tests.fixtures.host import needs_root, run

pytestmark = [pytest.mark.root, needs_root]


def image(where: Path, size: int, name: str = "area") -> Path:
    path = where / name
    with open(path, "wb") as f:
        f.truncate(size)
    path.chmod(0o600)
    return path


def changed_ranges(before: bytes, after: bytes) -> list[tuple[int, int]]:
    """Byte ranges [start, end) that differ, outside page 0 (compared page by page first,
    so a 128 MiB image takes milliseconds)."""
    diff = [
        i
        for page in range(PAGE_SIZE, len(before), PAGE_SIZE)
        if before[page : page + PAGE_SIZE] != after[page : page + PAGE_SIZE]
        for i in range(page, min(page + PAGE_SIZE, len(before)))
        if before[i] != after[i]
    ]
    out: list[tuple[int, int]] = []
    for i in diff:
        if out and out[-1][1] == i:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


def test_it_replaces_an_ext4_filesystem(swap_root: Path) -> None:
    path = image(swap_root, 16 * 1024 * 1024)
    run("mkfs.ext4", "-q", "-F", str(path))
    assert blkid(path)["TYPE"] == "ext4"
    with plain(path) as backend:
        mkswap(backend, label="was-ext4")
    probed = blkid(path)
    assert (probed["TYPE"], probed["LABEL"]) == ("swap", "was-ext4")
    assert [s.type for s in list_signatures(str(path))] == ["swap"]


def test_it_zeroes_only_the_magic_of_a_signature_past_page_0(swap_root: Path) -> None:
    path = image(swap_root, 128 * 1024 * 1024)
    run("mkfs.btrfs", "-q", "-f", str(path))
    btrfs = [s for s in list_signatures(str(path)) if s.type == "btrfs"]
    assert btrfs and all(s.offset >= PAGE_SIZE for s in btrfs)
    before = path.read_bytes()
    with plain(path) as backend:
        mkswap(backend)
    after = path.read_bytes()
    assert [s.type for s in list_signatures(str(path))] == ["swap"]
    assert changed_ranges(before, after) == [(s.offset, s.offset + s.length) for s in btrfs]
    assert all(after[s.offset : s.offset + s.length] == bytes(s.length) for s in btrfs)


def test_it_keeps_the_bootbits_under_a_partition_table(swap_root: Path) -> None:
    path = image(swap_root, 16 * 1024 * 1024)
    run("sfdisk", "-q", str(path), input="label: dos\n,\n")
    boot = path.read_bytes()[:1024]
    assert boot[510:512] == b"\x55\xaa"
    with plain(path) as backend:
        mkswap(backend, label="on-disk")
    assert path.read_bytes()[:1024] == boot
    assert {s.type for s in list_signatures(str(path))} == {"swap", "dos"}


def test_it_zeroes_the_bootbits_when_there_is_no_partition_table(swap_root: Path) -> None:
    path = image(swap_root, 10 * PAGE_SIZE)
    noise = bytearray(os.urandom(1024))
    noise[510:512] = b"\0\0"  # no accidental DOS signature
    with open(path, "r+b") as f:
        f.write(noise)
    with plain(path) as backend:
        mkswap(backend)
    assert path.read_bytes()[:1024] == bytes(1024)


def test_it_never_touches_bytes_past_the_last_whole_page(swap_root: Path) -> None:
    path = swap_root / "ragged"
    tail = os.urandom(100)
    path.write_bytes(bytes(10 * PAGE_SIZE) + tail)
    path.chmod(0o600)
    with plain(path) as backend:
        hdr = mkswap(backend)
    assert hdr.last_page == 9
    assert path.read_bytes()[10 * PAGE_SIZE :] == tail
