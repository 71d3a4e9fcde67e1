"""swapadmin's benchmark against fio on the same 1 GiB file: medians of RUNS runs each,
alternating the two tools (and which goes first) so that a noisy neighbour hurts both
alike."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backends import pageio  # noqa: E402
from bench._common import GiB, fio, median, swap_file, table  # noqa: E402

RUNS = 3
SECONDS = 5  # per phase, both tools
QD = 32
KEYS = ("rand_read_iops", "rand_write_iops", "seq_read_mb_s", "seq_write_mb_s")


def measure(
    runs: int = RUNS, size: int = GiB
) -> tuple[dict[str, list[float]], dict[str, list[float]], str]:
    """(swapadmin's figures, fio's, swapadmin's engine) over ``runs`` alternating runs on
    one written file of ``size``; make bench-quick asks for fewer and shorter ones."""
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    engine = ""
    with swap_file(size) as backend:
        path = backend.swap_path

        def run_ours() -> dict[str, float]:
            nonlocal engine
            r = pageio.benchmark(backend, seconds=4 * SECONDS, queue_depth=QD).to_dict()
            engine = r["engine"]
            return {key: r[key] for key in KEYS}

        def run_fio() -> dict[str, float]:
            # In pageio.benchmark's order: a phase that follows 10 GB of sequential writes
            # runs while the host still flushes them, so each tool's random writes must
            # follow its own sequential ones, not one tool's alone.
            seq_write = fio(path, "write", "1M", pageio.SEQ_DEPTH, SECONDS)["mb_s"]
            seq_read = fio(path, "read", "1M", pageio.SEQ_DEPTH, SECONDS)["mb_s"]
            rand_write = fio(path, "randwrite", "4k", QD, SECONDS)["iops"]
            rand_read = fio(path, "randread", "4k", QD, SECONDS)["iops"]
            return {
                "rand_read_iops": rand_read,
                "rand_write_iops": rand_write,
                "seq_read_mb_s": seq_read,
                "seq_write_mb_s": seq_write,
            }

        for i in range(runs):
            # Whoever goes first alternates, so a load that rises or falls during a run
            # favours neither tool.
            if i % 2 == 0:
                r, f = run_ours(), run_fio()
            else:
                f, r = run_fio(), run_ours()
            for key in KEYS:
                ours.setdefault(key, []).append(r[key])
                theirs.setdefault(key, []).append(f[key])
            print(f"run: swapadmin {r['rand_read_iops']:.0f}/{r['rand_write_iops']:.0f} "
                  f"fio {f['rand_read_iops']:.0f}/{f['rand_write_iops']:.0f} "
                  f"(rand read/write IOPS)", flush=True)  # fmt: skip
    return ours, theirs, engine


def main() -> None:
    ours, theirs, engine = measure()
    print(f"\npage I/O vs fio (libaio, --direct=1), 1 GiB file, medians of {RUNS} runs, "
          f"random 4 KiB at depth {QD}, sequential 1 MiB at depth {pageio.SEQ_DEPTH}; "
          f"swapadmin's engine: {engine}")  # fmt: skip
    print(table([(k, median(ours[k]), median(theirs[k])) for k in ours]))


if __name__ == "__main__":
    main()
