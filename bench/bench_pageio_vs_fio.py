"""swapadmin's benchmark against fio on the same 1 GiB file: medians of RUNS runs each,
alternating the two tools so that a noisy neighbour hurts both alike."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backends import pageio  # noqa: E402
from bench._common import median, swap_file, table  # noqa: E402

RUNS = 3
SECONDS = 5  # per phase, both tools
QD = 32


def fio(path: str, rw: str, bs: str, depth: int) -> dict[str, float]:
    out = subprocess.run(
        ["fio", "--name=b", f"--filename={path}", "--direct=1", "--ioengine=libaio",
         f"--iodepth={depth}", f"--rw={rw}", f"--bs={bs}", f"--runtime={SECONDS}",
         "--time_based", "--offset=4k", "--output-format=json"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    job = json.loads(out)["jobs"][0]
    side = job["write" if "write" in rw else "read"]
    return {"iops": side["iops"], "mb_s": side["bw_bytes"] / 1e6}


def main() -> None:
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    with swap_file() as backend:
        path = backend.swap_path
        for _ in range(RUNS):
            r = pageio.benchmark(backend, seconds=4 * SECONDS, queue_depth=QD).to_dict()
            for key in ("rand_read_iops", "rand_write_iops", "seq_read_mb_s", "seq_write_mb_s"):
                ours.setdefault(key, []).append(r[key])
            f = {
                "rand_read_iops": fio(path, "randread", "4k", QD)["iops"],
                "rand_write_iops": fio(path, "randwrite", "4k", QD)["iops"],
                "seq_read_mb_s": fio(path, "read", "1M", pageio.SEQ_DEPTH)["mb_s"],
                "seq_write_mb_s": fio(path, "write", "1M", pageio.SEQ_DEPTH)["mb_s"],
            }
            for key, value in f.items():
                theirs.setdefault(key, []).append(value)
            print(f"run: swapadmin {r['rand_read_iops']:.0f}/{r['rand_write_iops']:.0f} "
                  f"fio {f['rand_read_iops']:.0f}/{f['rand_write_iops']:.0f} "
                  f"(rand read/write IOPS)", flush=True)  # fmt: skip
    print(f"\npage I/O vs fio (libaio, --direct=1), 1 GiB file, medians of {RUNS} runs, "
          f"random 4 KiB at depth {QD}, sequential 1 MiB at depth {pageio.SEQ_DEPTH}")  # fmt: skip
    print(table([(k, median(ours[k]), median(theirs[k])) for k in ours]))


if __name__ == "__main__":
    main()
