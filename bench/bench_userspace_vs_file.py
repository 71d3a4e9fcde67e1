"""The user-space kind beside the file kind, on the same disk (issue 15 Part 2): what its
pages cost for passing through uswapd.

Two 1 GiB areas side by side under one directory of /var/tmp: a swap file (the file kind)
and a store served by uswapd and reached through a loop device over the daemon's FUSE
file (the user-space kind, contrib/swapadmin-userspace). Each is written once in full
before it is measured, so that no read is answered from an unwritten extent.

Two measurements of each, alternating the kinds run by run (and which goes first):

- swapadmin's page I/O engine through the kind's plugin (``pageio.benchmark``: the path
  of the scan, benchmark and burn-in jobs, each write proven on its descriptor);
- fio (libaio, ``--direct=1``) on what the kernel swaps to: the file kind's file (the
  kernel writes its extents directly) and the user-space kind's loop device (the kernel
  writes the loop device, which hands each request to the daemon). Throughput at depth
  32, and latency at depth 1, where a request's time is the path's own and not a queue's.

The kernel's swap traffic itself cannot be measured here: this machine does not grant the
daemon PR_SET_IO_FLUSHER, so the kind refuses swapon (contrib/swapadmin-userspace's README).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backends import header, pageio  # noqa: E402
from backends.base import SwapBackend  # noqa: E402
from backends.errors import ValidationError  # noqa: E402
from backends.plugins.file import FileBackend  # noqa: E402
from backends.policy import Policy  # noqa: E402
from backends.registry import registry  # noqa: E402
from bench._common import GiB, fio, median  # noqa: E402

RUNS = 3
SECONDS = 4  # per fio phase; pageio.benchmark's four phases share 4 * SECONDS
QD = 32

#: (label, key, format)
ROWS: tuple[tuple[str, str, str], ...] = (
    ("swapadmin engine: random read IOPS, 4 KiB, depth 32", "eng_rr", "{:,.0f}"),
    ("swapadmin engine: random write IOPS, 4 KiB, depth 32", "eng_rw", "{:,.0f}"),
    ("swapadmin engine: random read p99, µs, depth 32", "eng_rr_p99", "{:,.0f}"),
    ("swapadmin engine: random write p99, µs, depth 32", "eng_rw_p99", "{:,.0f}"),
    ("swapadmin engine: sequential read MB/s, 1 MiB", "eng_sr", "{:,.0f}"),
    ("swapadmin engine: sequential write MB/s, 1 MiB", "eng_sw", "{:,.0f}"),
    ("fio, kernel's path: random read IOPS, 4 KiB, depth 32", "fio_rr", "{:,.0f}"),
    ("fio, kernel's path: random write IOPS, 4 KiB, depth 32", "fio_rw", "{:,.0f}"),
    ("fio, kernel's path: random read latency p50, µs, depth 1", "fio_rr_p50", "{:,.1f}"),
    ("fio, kernel's path: random read latency p99, µs, depth 1", "fio_rr_p99", "{:,.1f}"),
    ("fio, kernel's path: random write latency p50, µs, depth 1", "fio_rw_p50", "{:,.1f}"),
    ("fio, kernel's path: random write latency p99, µs, depth 1", "fio_rw_p99", "{:,.1f}"),
    ("fio, kernel's path: sequential read MB/s, 1 MiB, depth 4", "fio_sr", "{:,.0f}"),
    ("fio, kernel's path: sequential write MB/s, 1 MiB, depth 4", "fio_sw", "{:,.0f}"),
)


def measure_fio(path: str) -> dict[str, float]:
    """In pageio.benchmark's order: sequential first, then random (so the random writes of
    each follow its own sequential ones, not the other kind's)."""
    sw = fio(path, "write", "1M", pageio.SEQ_DEPTH, SECONDS)["mb_s"]
    sr = fio(path, "read", "1M", pageio.SEQ_DEPTH, SECONDS)["mb_s"]
    rw = fio(path, "randwrite", "4k", QD, SECONDS)["iops"]
    rr = fio(path, "randread", "4k", QD, SECONDS)["iops"]
    lw = fio(path, "randwrite", "4k", 1, SECONDS)
    lr = fio(path, "randread", "4k", 1, SECONDS)
    return {
        "fio_sw": sw, "fio_sr": sr, "fio_rw": rw, "fio_rr": rr,
        "fio_rw_p50": lw["p50_us"], "fio_rw_p99": lw["p99_us"],
        "fio_rr_p50": lr["p50_us"], "fio_rr_p99": lr["p99_us"],
    }  # fmt: skip


def measure_engine(backend: SwapBackend) -> dict[str, float]:
    r = pageio.benchmark(backend, seconds=4 * SECONDS, queue_depth=QD).to_dict()
    return {
        "eng_rr": r["rand_read_iops"], "eng_rw": r["rand_write_iops"],
        "eng_rr_p99": r["rand_read_p99_us"], "eng_rw_p99": r["rand_write_p99_us"],
        "eng_sr": r["seq_read_mb_s"], "eng_sw": r["seq_write_mb_s"],
    }  # fmt: skip


def fill(path: str, size: int) -> None:
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size >> 20}",
         "oflag=direct", "conv=notrunc", "status=none"],
        check=True,
    )  # fmt: skip


@contextlib.contextmanager
def file_area(root: Path, policy: Policy, size: int) -> Iterator[FileBackend]:
    backend = FileBackend(
        {"path": str(root / "file.swap")}, size_bytes=size, policy=policy, provisioning=True,
        owner="bench",
    )  # fmt: skip
    backend.swapfile(True)
    fill(backend.swap_path, size)
    header.mkswap(backend, label="bench-file", uuid=uuid.uuid4())
    try:
        yield backend
    finally:
        backend.close()


@contextlib.contextmanager
def userspace_area(root: Path, policy: Policy, size: int) -> Iterator[SwapBackend]:
    """Provisioned as a provision job does (the daemon started, the loop device attached),
    written in full through the loop device, that is through the daemon; released
    afterwards (loop device, mount and daemon), whatever happened."""
    try:
        cls = registry().get("userspace")
    except ValidationError as e:
        raise SystemExit(f"{e}: `make venv` installs contrib/swapadmin-userspace") from None
    backend = cls(
        {"path": str(root / "userspace.store")}, size_bytes=size, policy=policy,
        provisioning=True, owner="bench",
    )  # fmt: skip
    try:
        backend.swapfile(True)
        fill(backend.swap_path, size)
        header.mkswap(backend, label="bench-uswap", uuid=uuid.uuid4())
        backend.close()
        # The plugin a later job builds: it proves the daemon, the mount and the loop
        # device on each open, as the scan and benchmark jobs' plugins do.
        later = cls(
            backend.params, size_bytes=size, policy=policy, state=backend.state, owner="bench"
        )
        yield later
        later.close()
    finally:
        backend.swapfile(False)


def mounts() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4].replace("\\040", " ") for line in f]


def main() -> None:
    size = GiB
    base = Path(tempfile.mkdtemp(prefix="swapadmin-bench-uswap-", dir="/var/tmp"))
    base.chmod(0o700)
    roots = base / "roots"
    roots.mkdir()
    os.environ["SWAPADMIN_USWAP_DIR"] = str(base / "run")
    policy = Policy((roots,))
    figures: dict[str, dict[str, list[float]]] = {"file": {}, "userspace": {}}
    try:
        with file_area(roots, policy, size) as f, userspace_area(roots, policy, size) as u:
            kinds: dict[str, tuple[SwapBackend, str]] = {
                "file": (f, f.swap_path),
                "userspace": (u, u.swap_path),
            }
            print(f"file kind: {f.swap_path}; user-space kind: {u.swap_path} over "
                  f"{u.state.get('mountpoint')}/area", flush=True)  # fmt: skip
            for i in range(RUNS):
                order = ["file", "userspace"] if i % 2 == 0 else ["userspace", "file"]
                for kind in order:
                    backend, path = kinds[kind]
                    got = {**measure_engine(backend), **measure_fio(path)}
                    for key, value in got.items():
                        figures[kind].setdefault(key, []).append(value)
                last = {k: (v["eng_rr"][-1], v["fio_rr"][-1]) for k, v in figures.items()}
                print(f"run {i + 1}: random read IOPS (engine, fio): {last}", flush=True)
    finally:
        left = [m for m in mounts() if m == str(base) or m.startswith(f"{base}/")]
        if left:  # never delete through a mount the release could not take down
            print(f"left in place, still mounted: {', '.join(left)}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(f"\nthe user-space kind beside the file kind, 1 GiB each on /var/tmp, medians of "
          f"{RUNS} runs; ratio = user-space / file (below 1 is slower for rates, above 1 "
          "slower for latencies)")  # fmt: skip
    print("| metric | file kind | user-space kind | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for label, key, fmt in ROWS:
        a, b = median(figures["file"][key]), median(figures["userspace"][key])
        ratio = b / a if a else float("nan")
        print(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
