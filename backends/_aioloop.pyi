# The C loop's signature (backends/_aioloop.c) for mypy.
import array
import mmap

def run(
    *,
    ctx: int,
    fd: int,
    lease_fd: int,
    write: bool,
    data: mmap.mmap | bytearray,
    nbytes: int,
    first: int,
    runs: int,
    run_pages: int,
    pages: int,
    random: bool,
    depth: int,
    slice_ns: int,
    latencies: array.array[int],
    state: int,
) -> tuple[int, int, int, int, int]: ...
