"""The benchmark's native AIO loop (``aioloop.c``), loaded through ctypes.

``make`` builds ``aioloop.so`` beside this file with Debian's C compiler. Without it (a
checkout nobody ran ``make`` in, a machine without gcc) ``LOOP`` is None and the
benchmark keeps its Python engines: slower at 4 KiB, the same requests otherwise.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: Where ``make`` puts the library; the name is also in this folder's .gitignore.
LIBRARY: Final = Path(__file__).with_name("aioloop.so")
#: The C loop's own bound on requests in flight (MAX_DEPTH in aioloop.c).
MAX_DEPTH: Final = 256
#: Histogram layout, as in aioloop.c: exact below 2**SUB_BITS ns, then 2**SUB_BITS
#: buckets per power of two.
SUB_BITS: Final = 7


class _Result(ctypes.Structure):
    _fields_ = [
        ("ops", ctypes.c_uint64),
        ("elapsed_ns", ctypes.c_uint64),
        ("fail_res", ctypes.c_int64),
        ("fail_offset", ctypes.c_uint64),
    ]


@dataclass(frozen=True)
class LoopResult:
    """What one run of the loop did. ``error`` is 0, or the errno that stopped it;
    ``fail_res`` and ``fail_offset`` name the request that failed (res < 0 is -errno,
    0 <= res < request size a short transfer)."""

    ops: int
    elapsed_ns: int
    histogram: tuple[int, ...]
    error: int
    fail_res: int
    fail_offset: int


class AioLoop:
    """The loaded library: one call runs a whole benchmark phase without the GIL."""

    def __init__(self, path: Path) -> None:
        lib = ctypes.CDLL(str(path), use_errno=True)
        self._run = lib.sa_aio_run
        self._run.restype = ctypes.c_int
        self._run.argtypes = [
            ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_uint64, ctypes.c_uint64,
            ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint, ctypes.c_uint64, ctypes.c_uint64,
            ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(_Result),
        ]  # fmt: skip
        lib.sa_hist_len.restype = ctypes.c_uint
        self.hist_len = int(lib.sa_hist_len())

    def run(
        self,
        *,
        fd: int,
        write: bool,
        sequential: bool,
        first: int,
        runs: int,
        run_pages: int,
        page_size: int,
        depth: int,
        seconds: float,
        buffers: ctypes.Array[ctypes.c_char],
        max_ops: int = 0,
    ) -> LoopResult:
        """Keep ``depth`` requests of ``run_pages`` pages in flight on ``fd`` for
        ``seconds`` (or until ``max_ops`` were submitted, 0 for no limit), each at slot
        ``first + r * run_pages``, r counting up modulo ``runs`` or uniform below it.
        ``buffers`` holds ``depth`` page-aligned request buffers, one after the other."""
        if first < 1:
            # Slot 0 is the swap header: no caller has a reason to aim the loop at it.
            raise ValueError(f"the loop never starts at slot {first}: slot 0 is the header")
        if not 1 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must be 1 to {MAX_DEPTH}, not {depth}")
        if len(buffers) < depth * run_pages * page_size:
            raise ValueError("the buffers are smaller than depth requests")
        hist = (ctypes.c_uint64 * self.hist_len)()
        out = _Result()
        rc = self._run(
            fd, int(write), int(sequential), first, runs, run_pages, page_size, depth,
            int(seconds * 1e9), max_ops, int.from_bytes(os.urandom(8), "little"),
            ctypes.addressof(buffers), ctypes.addressof(hist), ctypes.byref(out),
        )  # fmt: skip
        return LoopResult(
            ops=out.ops,
            elapsed_ns=out.elapsed_ns,
            histogram=tuple(hist),
            error=-rc if rc < 0 else 0,
            fail_res=out.fail_res,
            fail_offset=out.fail_offset,
        )


def bucket_ns(index: int) -> float:
    """The middle of histogram bucket ``index``, in ns."""
    sub = 1 << SUB_BITS
    if index < sub:
        return float(index)
    shift = index // sub - 1
    low = (index % sub + sub) << shift
    return low + ((1 << shift) - 1) / 2


def _load() -> AioLoop | None:
    if not LIBRARY.exists():
        return None
    try:
        return AioLoop(LIBRARY)
    except OSError:  # built for another machine, or half-written by a concurrent make
        return None


LOOP: Final = _load()

__all__ = ["LIBRARY", "LOOP", "AioLoop", "LoopResult", "bucket_ns"]
