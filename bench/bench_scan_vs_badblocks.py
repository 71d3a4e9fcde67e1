"""swapadmin's scan against badblocks -w on the same 1 GiB file, four patterns each:
medians of RUNS runs, alternating the two tools."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backends import header, pageio  # noqa: E402
from bench._common import GiB, median, swap_file, table  # noqa: E402

RUNS = 3


def badblocks(path: str) -> float:
    started = time.monotonic()
    subprocess.run(
        ["badblocks", "-w", "-b", "4096", "-t", "0xaa", "-t", "0x55", "-t", "0xff",
         "-t", "0x00", path],
        check=True, capture_output=True,
    )  # fmt: skip
    return time.monotonic() - started


def measure(runs: int = RUNS, size: int = GiB) -> tuple[list[float], list[float]]:
    """(swapadmin's scan seconds, badblocks' seconds) over ``runs`` runs on one file."""
    ours: list[float] = []
    theirs: list[float] = []
    with swap_file(size) as backend:
        for _ in range(runs):
            result = pageio.scan(backend, patterns=4)
            assert result.bad_pages == [], result.bad_pages
            ours.append(result.seconds)
            theirs.append(badblocks(backend.swap_path))
            print(f"run: swapadmin {ours[-1]:.1f} s, badblocks {theirs[-1]:.1f} s", flush=True)
            # badblocks wrote over the header: make it again for the next scan.
            header.mkswap(backend, label="bench")
    return ours, theirs


def main() -> None:
    ours, theirs = measure()
    print(f"\nscan vs badblocks -w -b 4096 (4 patterns), 1 GiB file, medians of {RUNS} runs "
          "(seconds; ratio < 1 means swapadmin is faster)")  # fmt: skip
    print(table([("4-pattern scan, s", median(ours), median(theirs))], "{:.1f}"))


if __name__ == "__main__":
    main()
