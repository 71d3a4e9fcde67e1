"""An API request to an area active in /proc/swaps, against the bare commands, on `make run`
(``manage.py runall``) as a user starts it: its embedded default (SQLite and kombu's filesystem
broker) and with PostgreSQL and Redis, one after the other.

For each stack, RUNS times, alternating with the bare sequence so a noisy neighbour hurts both:

- bare: ``fallocate -l SIZE && chmod 600 && mkswap && swapon`` of a file of AREA_BYTES;
- API, two requests: ``POST backends/`` (a file backend of the same size), following its
  provision job with ``GET jobs/{id}/`` every POLL seconds, then ``POST backends/{id}/activate/``
  and following that job; timed from the first request to the area's line in /proc/swaps
  (watched every millisecond) and to the client seeing the activate job succeed;
- API, one request: ``POST backends/`` with ``"activate": true``, the same clocks.

Every area is destroyed through the API afterwards (not timed). Medians are reported with the
overhead over the bare sequence. About a minute a stack.

    .venv/bin/python bench/bench_request_to_swapon.py [--stacks sqlite,postgres] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.bench_embedded_load import enter_stack  # noqa: E402
from bench.load_stack import machine, median  # noqa: E402

RUNS = 5
AREA_BYTES = 256 << 20
POLL = 0.01  # seconds between a client's GETs while it waits for a job
LABELS = {"sqlite": "make run, embedded (SQLite + filesystem broker)",
          "postgres": "make run, PostgreSQL + Redis"}  # fmt: skip


def in_proc_swaps(path: str) -> bool:
    with open("/proc/swaps") as f:
        return any(line.split()[0] == path for line in f.readlines()[1:])


class SwapsWatch(threading.Thread):
    """The moment ``path`` first appears in /proc/swaps, polled every millisecond."""

    def __init__(self, path: str) -> None:
        super().__init__(daemon=True)
        self.path, self.seen_at, self.done = path, 0.0, threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while not self.done.is_set() and time.monotonic() < deadline:
            if in_proc_swaps(self.path):
                self.seen_at = time.monotonic()
                return
            time.sleep(0.001)


def follow(api: httpx.Client, job: dict[str, Any], poll: float = POLL) -> dict[str, Any]:
    """GET the job until it has ended, as a client of the API does."""
    while True:
        body = api.get(f"/jobs/{job['id']}/").json()
        if body["state"] in ("succeeded", "failed", "cancelled"):
            if body["state"] != "succeeded":
                raise RuntimeError(f"{body['kind']} {body['state']}: {body['error']}")
            return body
        time.sleep(poll)


def through_api(
    api: httpx.Client, host: str, root: Path, name: str, one: bool, *,
    size: int = AREA_BYTES, poll: float = POLL,
) -> tuple[float, float, str]:  # fmt: skip
    """(ms to the area in /proc/swaps, ms to the client seeing it done, backend id)."""
    path = str(root / f"{name}.swap")
    watch = SwapsWatch(path)
    watch.start()
    body: dict[str, Any] = {"host": host, "kind": "file", "name": name,
                            "size_bytes": size, "params": {"path": path}}  # fmt: skip
    t0 = time.monotonic()
    if one:
        body["activate"] = True
    r = api.post("/backends/", json=body)
    r.raise_for_status()
    backend = r.json()["backend"]
    follow(api, r.json(), poll)
    if not one:
        r = api.post(f"/backends/{backend}/activate/", json={})
        r.raise_for_status()
        follow(api, r.json(), poll)
    t_done = time.monotonic()
    watch.join()
    if not watch.seen_at:
        raise RuntimeError(f"{path} never appeared in /proc/swaps")
    return (watch.seen_at - t0) * 1000, (t_done - t0) * 1000, backend


def bare(root: Path, i: int, size: int = AREA_BYTES) -> float:
    path = root / f"bare{i}.swap"
    t0 = time.monotonic()
    subprocess.run(
        f"fallocate -l {size} {path} && chmod 600 {path} && mkswap -q {path} >/dev/null"
        f" && swapon {path}",
        shell=True, check=True,
    )  # fmt: skip
    took = (time.monotonic() - t0) * 1000
    subprocess.run(["swapoff", str(path)], check=True)
    path.unlink()
    return took


def measure(base: str, token: str, host: str, root: Path, runs: int, one_request: bool) -> dict:
    api = httpx.Client(base_url=f"{base}/api/v1", timeout=60,
                       headers={"Authorization": f"Token {token}"})  # fmt: skip
    modes = [("two", False)] + ([("one", True)] if one_request else [])
    got: dict[str, list[float]] = {"bare": []}
    with api:
        # One unmeasured cycle: the first job of a fresh worker imports and connects.
        _, _, warm = through_api(api, host, root, "warm", False)
        follow(api, api.delete(f"/backends/{warm}/").json())
        for i in range(runs):
            for mode, one in modes:
                active, done, backend = through_api(api, host, root, f"{mode}{i}", one)
                got.setdefault(f"{mode} active", []).append(active)
                got.setdefault(f"{mode} done", []).append(done)
                follow(api, api.delete(f"/backends/{backend}/").json())
                got["bare"].append(bare(root, i * 2 + int(one)))
                print(f"  run {i} {mode} request(s): {active:.0f} ms to /proc/swaps, "
                      f"{done:.0f} ms to job seen done; bare {got['bare'][-1]:.0f} ms",
                      flush=True)  # fmt: skip
    return {k: median(v) for k, v in got.items()}


def report(results: dict[str, dict[str, float]], runs: int) -> str:
    lines = [
        f"File area of {AREA_BYTES >> 20} MiB; client polling jobs/ every {POLL * 1000:.0f} ms; "
        f"medians of {runs} runs; overhead = API minus the bare sequence's median",
        "",
        "| stack | path | ms | overhead over bare, ms |",
        "| --- | --- | ---: | ---: |",
    ]
    for stack, r in results.items():
        lines.append(f"| {stack} | bare fallocate && chmod 600 && mkswap && swapon "
                     f"| {r['bare']:.0f} | |")  # fmt: skip
        for mode, what in (("two", "create, then activate (2 requests)"),
                           ("one", 'create with "activate": true (1 request)')):  # fmt: skip
            if f"{mode} active" not in r:
                continue
            for clock, seen in (("active", "area in /proc/swaps"), ("done", "job seen done")):
                ms = r[f"{mode} {clock}"]
                lines.append(f"| {stack} | {what}: {seen} | {ms:.0f} | {ms - r['bare']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stacks", default="sqlite,postgres")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--two-requests-only", action="store_true",
                        help="for code without create-and-activate")  # fmt: skip
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    print(f"machine: {machine()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    results: dict[str, dict[str, float]] = {}
    for name in args.stacks.split(","):
        if name not in LABELS:
            raise SystemExit(f"unknown stack {name!r}: sqlite or postgres")
        print(f"\n== {LABELS[name]}", flush=True)
        with contextlib.ExitStack() as stack:
            run, root, _ = enter_stack(name, stack)
            results[LABELS[name]] = measure(
                run.base, run.token, run.host_id, root, args.runs, not args.two_requests_only
            )
    print("\n" + report(results, args.runs))


if __name__ == "__main__":
    main()
