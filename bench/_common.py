"""What the bench scripts share: a 1 GiB swap file under /var/tmp, removed afterwards."""

from __future__ import annotations

import contextlib
import json
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from backends import header
from backends.plugins.file import FileBackend
from backends.policy import Policy

GiB = 1024 * 1024 * 1024


@contextlib.contextmanager
def swap_file(size: int = GiB) -> Iterator[FileBackend]:
    """A mkswapped, fully written file of ``size`` on /var/tmp (written once, so no read is
    answered from an unwritten extent without reaching the disk)."""
    root = Path(tempfile.mkdtemp(prefix="swapadmin-bench-", dir="/var/tmp"))
    root.chmod(0o700)
    try:
        path = root / "bench.swap"
        # Taken as a provision takes it (the bench is its owner): the reference tools then
        # write over it between runs, which only the plugin that took it may do after them.
        backend = FileBackend(
            {"path": str(path)}, size_bytes=size, policy=Policy((root,)), provisioning=True,
            owner="bench",
        )  # fmt: skip
        backend.swapfile(True)
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size >> 20}",
             "oflag=direct", "conv=notrunc", "status=none"],
            check=True,
        )  # fmt: skip
        header.mkswap(backend, label="bench")
        yield backend
        backend.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(rows: list[tuple[str, float, float]], unit_fmt: str = "{:,.0f}") -> str:
    """metric | swapadmin | other | ratio, as a Markdown table."""
    out = ["| metric | swapadmin | reference | ratio |", "| --- | ---: | ---: | ---: |"]
    for name, ours, theirs in rows:
        ratio = ours / theirs if theirs else float("nan")
        out.append(
            f"| {name} | {unit_fmt.format(ours)} | {unit_fmt.format(theirs)} | {ratio:.2f} |"
        )
    return "\n".join(out)


def fio(path: str, rw: str, bs: str, depth: int, seconds: int) -> dict[str, float]:
    """One fio phase (libaio, ``--direct=1``, past the header page): IOPS, MB/s, and the
    completion latency's p50 and p99 in µs."""
    out = subprocess.run(
        ["fio", "--name=b", f"--filename={path}", "--direct=1", "--ioengine=libaio",
         f"--iodepth={depth}", f"--rw={rw}", f"--bs={bs}", f"--runtime={seconds}",
         "--time_based", "--offset=4k", "--output-format=json"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    side = json.loads(out)["jobs"][0]["write" if "write" in rw else "read"]
    pct = side["clat_ns"].get("percentile", {})
    return {
        "iops": side["iops"],
        "mb_s": side["bw_bytes"] / 1e6,
        "p50_us": pct.get("50.000000", 0) / 1e3,
        "p99_us": pct.get("99.000000", 0) / 1e3,
    }
