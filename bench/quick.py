"""make bench-quick: issue 14's table, every row that can be measured in a few minutes, side by
side with its reference or goal. Fewer and shorter runs than `make bench`: medians of 3 for
the request rows; medians of 3 alternating pairs of 2 s phases against fio, since one pair's
random writes swung from 0.7× to 1.1× with the disk; 10 requests a page in-process and the
table-3 count through gunicorn for the 1,000-row API pages; 5 s of ingestion; a 256 MiB file
for the scan. A row is a quick look, not a figure for the docs; the full benches keep those
(docs/BENCHMARKS*.md).

Rows left out, and why: a week of samples for 500 hosts (the full table 3 seeds 2.2 million
rows: the overview reads none, so the quick fleet has none) and the sample table's size for
a year (table 4's last part).

    .venv/bin/python bench/quick.py
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bench_control_plane as cp  # noqa: E402
from bench import bench_pageio_vs_fio as vs_fio  # noqa: E402
from bench import bench_request_to_swapon as to_swapon  # noqa: E402
from bench import bench_scan_vs_badblocks as vs_badblocks  # noqa: E402
from bench.bench_embedded_load import enter_stack  # noqa: E402
from bench.load_stack import (  # noqa: E402
    bench_database,
    machine,
    median,
    percentile,
    services_env,
    setup_django,
    signing_key_file,
)

MiB = 1 << 20
Row = tuple[str, str, str, str]  # figure, swapadmin, reference or goal, verdict


def request_rows() -> list[Row]:
    rows: list[Row] = []
    for stack, goal in (("sqlite", 150), ("postgres", 50)):
        with contextlib.ExitStack() as es:
            run, root, _ = enter_stack(stack, es)
            got = to_swapon.measure(run.base, run.token, run.host_id, root, 3, True)
        label = to_swapon.LABELS[stack]
        for mode, what in (("one", "1 request"), ("two", "2 requests")):
            over = got[f"{mode} active"] - got["bare"]
            verdict = ("meets" if over <= goal else "misses") if mode == "one" else ""
            rows.append((f"{label}: request to /proc/swaps over bare, {what}", f"{over:.0f} ms",
                         f"goal ≤ {goal} ms", verdict))  # fmt: skip
    return rows


def page_rows(env: dict[str, str], logdir: Path) -> list[Row]:
    from django.contrib.auth.models import Group, User
    from django.test import Client

    from swapadmin.accounts.models import ApiToken
    from swapadmin.web import views

    viewer, _ = User.objects.get_or_create(username="quick-viewer")
    viewer.groups.add(Group.objects.get_or_create(name="viewer")[0])
    page = Client()
    page.force_login(viewer)
    _, token = ApiToken.objects.create(viewer, expiry=timedelta(days=1), name="quick")
    views.LIVE_CACHE_SECONDS = 0  # every request draws its page
    rows: list[Row] = []

    def p95(client: Any, url: str, headers: dict[str, str] | None = None) -> float:
        views._live_cache = None
        return percentile(cp.measure_page(client, url, headers or {})[0], 95)

    for hosts, goal in ((500, 50), (5000, 100)):
        cp.seed_fleet(hosts)
        cp.collect_the_seeding()
        rows.append((f"overview, full page, p95 at {hosts} hosts", f"{p95(page, '/'):.0f} ms",
                     f"goal ≤ {goal} ms", ""))  # fmt: skip
        live = p95(page, "/", {"HX-Request": "true", "HX-Target": "live"})
        rows.append((f"overview, live partial, p95 at {hosts} hosts", f"{live:.0f} ms",
                     f"goal ≤ {goal} ms", ""))  # fmt: skip
        if hosts == 500:
            # As an API client sees them: through gunicorn, as docker-compose serves them.
            for url, times in cp.measure_served(env, logdir, token).items():
                p95_ms = f"{percentile(times, 95):.0f} ms"
                rows.append((f"GET {url} p95 at 500 hosts, served by gunicorn", p95_ms,
                             "goal ≤ 200 ms a page", ""))  # fmt: skip
    return [(f, ours, goal, _verdict(ours, goal)) for f, ours, goal, _ in rows]


def ingestion_rows() -> list[Row]:
    ids = cp.seed_ingest_hosts(cp.INGEST_HOSTS)
    rate, client, server = cp._rate(cp._store_recorded, ids, 4)
    return [(
        f"sample ingestion on PostgreSQL, 4 writers storing recorded readings of "
        f"{len(ids):,} hosts (writer {client:.2f} + PostgreSQL {server:.2f} CPU ms a sample)",
        f"{rate:,.0f}/s", "goal ≥ 1,000/s", "meets" if rate >= 1000 else "misses",
    )]  # fmt: skip


def page_io_rows() -> list[Row]:
    vs_fio.SECONDS = 2
    ours, theirs, engine = vs_fio.measure(runs=3, size=256 * MiB)
    rows: list[Row] = []
    for key, goal in (("rand_read_iops", 0.9), ("rand_write_iops", 0.9),
                      ("seq_read_mb_s", None), ("seq_write_mb_s", None)):  # fmt: skip
        ratio = median(ours[key]) / median(theirs[key])
        want = f"fio {median(theirs[key]):,.0f}" + (f", goal ≥ {goal}×" if goal else "")
        verdict = f"{ratio:.2f}×" + ("" if goal is None else (" meets" if ratio >= goal
                                                                else " misses"))  # fmt: skip
        rows.append((f"page I/O {key} ({engine})", f"{median(ours[key]):,.0f}", want, verdict))
    ours_s, theirs_s = vs_badblocks.measure(runs=1, size=256 * MiB)
    ratio = median(ours_s) / median(theirs_s)
    rows.append(("4-pattern scan of 256 MiB, s", f"{median(ours_s):.1f}",
                 f"badblocks {median(theirs_s):.1f}", f"{ratio:.2f}×"))  # fmt: skip
    return rows


def _verdict(ours: str, goal: str) -> str:
    value = float(ours.split()[0].replace(",", ""))
    bound = float(goal.split("≤")[1].split()[0])
    return "meets" if value <= bound else "misses"


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    started = time.monotonic()
    print(f"machine: {machine()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
          flush=True)  # fmt: skip
    # The stacks first: they are processes of their own, and this one's Django comes after.
    rows = request_rows()
    env = services_env()
    with tempfile.TemporaryDirectory(prefix="swapadmin-quick-") as tmp, \
            bench_database(env["DATABASE_URL"]) as db_url:  # fmt: skip
        cp.SAMPLED_HOSTS = 0  # the overview reads no samples; seeding them takes minutes
        cp.PAGE_REQUESTS = 10
        cp.INGEST_SECONDS = 5.0
        env = {**env, "DATABASE_URL": db_url, "SWAPADMIN_DATA_DIR": tmp,
               "SWAPADMIN_SIGNING_KEY_FILE": signing_key_file(Path(tmp))}  # fmt: skip
        setup_django(env)
        from swapadmin.heap import freeze_start_up

        freeze_start_up()  # as the server's start-up is (swapadmin/wsgi.py)
        rows += page_rows(env, Path(tmp))
        gc.unfreeze()  # the sampler's writers (a Celery worker) never freeze their start-up
        rows += ingestion_rows()
    rows += page_io_rows()
    print(f"\nissue 14's table, quick ({time.monotonic() - started:.0f} s)\n")
    print("| figure | swapadmin | reference or goal | |")
    print("| --- | ---: | ---: | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
