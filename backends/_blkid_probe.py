"""Run as a child (``python _blkid_probe.py FD``): does libblkid's whole probe of the store
open on FD, as wipefs runs it, end without a read error? Prints one JSON line.

wipefs lists signatures with ``while (blkid_do_probe(pr) == 0)`` and so cannot tell the
probe loop's end (1) from a read error that broke it (-1): on a device that fails reads,
it exits 0 with a short listing. Probers follow offsets stored on the disk (NTFS's $MFT,
DDF's header near the end, exFAT's root directory, UDF's descriptors), so no fixed set of
regions covers what they read; only libblkid's own answer does. A child, because a read
on a device that stopped answering sleeps in state D, which no signal ends: the worker
bounds the child instead (``kernel.finish``). Standard library only: it is started with
``-I``, outside the worker's imports.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import mmap
import os
import stat
import struct
import sys

BLKFLSBUF = 0x1261
BLKGETSIZE64 = 0x80081272
# libblkid's flags, as wipefs sets them (blkid.h, util-linux 2.38).
SUBLKS = (1 << 1) | (1 << 3) | (1 << 5) | (1 << 7) | (1 << 9) | (1 << 10)
PARTS = (1 << 1) | (1 << 3)  # FORCE_GPT | MAGIC
#: Read whole as well, through the fresh buffered descriptor, so an error a prober takes
#: for "not this type" is still caught where most metadata lives: LUKS2's farthest
#: secondary header (4 MiB) at the start, the RAID formats kept at the end.
HEAD = 8 << 20
TAIL = 32 << 20
CHUNK = 1 << 20


def main(fd: int, *, ends: bool = True) -> dict[str, object]:
    # A descriptor of its own: the caller's may be O_DIRECT, which libblkid's unaligned
    # reads cannot use; /proc/self/fd/N opens the very same file, not a name again.
    own = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
    st = os.fstat(own)
    if stat.S_ISBLK(st.st_mode):
        # Cached pages may be older than the disk (written below the cache: a loop
        # device's file, another host on a shared LUN): read what is there now.
        fcntl.ioctl(own, BLKFLSBUF)
        size = struct.unpack("=Q", fcntl.ioctl(own, BLKGETSIZE64, b"\0" * 8))[0]
    else:
        size = st.st_size
    failed = _read_ends(own, size) if ends else None
    if failed:
        return failed
    return _probe(own)


def _read_ends(fd: int, size: int) -> dict[str, object] | None:
    buf = mmap.mmap(-1, CHUNK)
    head = min(size, HEAD)
    tail = max(head, size - TAIL)
    for start, end in ((0, head), (tail, size)):
        offset = start
        while offset < end:
            want = min(CHUNK, end - offset)
            try:
                got = os.preadv(fd, [memoryview(buf)[:want]], offset)
            except OSError as e:
                return {"unreadable": [offset, want], "why": e.strerror or str(e)}
            if got <= 0:
                return {"unreadable": [offset, want], "why": "it ends before its size"}
            offset += got
    return None


def _probe(fd: int) -> dict[str, object]:
    lib = ctypes.CDLL("libblkid.so.1", use_errno=True)
    lib.blkid_new_probe.restype = ctypes.c_void_p
    lib.blkid_probe_set_device.argtypes = [
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_int64,
        ctypes.c_int64,
    ]
    for name in (
        "blkid_probe_enable_superblocks",
        "blkid_probe_set_superblocks_flags",
        "blkid_probe_enable_partitions",
        "blkid_probe_set_partitions_flags",
    ):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.blkid_do_probe.argtypes = [ctypes.c_void_p]
    lib.blkid_free_probe.argtypes = [ctypes.c_void_p]
    pr = lib.blkid_new_probe()
    if not pr:
        return {"failed": "libblkid could not make a probe (out of memory?)"}
    try:
        if lib.blkid_probe_set_device(pr, fd, 0, 0) != 0:
            return {"failed": f"libblkid could not use the device: {_errno()}"}
        lib.blkid_probe_enable_superblocks(pr, 1)
        lib.blkid_probe_set_superblocks_flags(pr, SUBLKS)
        lib.blkid_probe_enable_partitions(pr, 1)
        lib.blkid_probe_set_partitions_flags(pr, PARTS)
        found = 0
        while True:
            ctypes.set_errno(0)
            rc = lib.blkid_do_probe(pr)
            if rc == 0:
                found += 1
            elif rc == 1:
                return {"complete": True, "found": found}
            else:
                # 2.38 returns -errno from the probers (-1 with errno set elsewhere).
                why = os.strerror(-rc) if rc < -1 else _errno()
                return {"broken": why, "found": found}
    finally:
        lib.blkid_free_probe(pr)


def _errno() -> str:
    code = ctypes.get_errno()
    return os.strerror(code) if code else "an error libblkid did not name"


if __name__ == "__main__":
    try:
        answer = main(int(sys.argv[1]), ends="--probe-only" not in sys.argv[2:])
    except OSError as e:
        answer = {"failed": f"{e.strerror or e} (errno {e.errno or errno.EIO})"}
    print(json.dumps(answer))
